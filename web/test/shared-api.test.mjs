// The API suite shared with the Node package (js/test/api.mjs, served as
// /js-test/api.mjs), run in the test harness page: each test runs in the
// page against the package there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from './browser.mjs';
import { tests } from '../../js/test/api.mjs';

/** @type {Awaited<ReturnType<typeof setup>>} */
let env;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  env = await setup();
  page = await env.page();
});

after(async () => {
  assert.deepEqual(/** @type {any} */ (page)?.errors ?? [], []);
  await env?.close();
});

for (const [name] of tests) {
  test(name, async () => {
    const failure = await page.evaluate(async (name) => {
      const { tests } = await import('/js-test/api.mjs');
      const run = tests.find((/** @type {[string, Function]} */ t) => t[0] === name)?.[1];
      try {
        await run(/** @type {any} */ (window).logpond);
        return null;
      } catch (e) {
        return String(/** @type {any} */ (e)?.stack ?? e);
      }
    }, name);
    assert.equal(failure, null);
  });
}
