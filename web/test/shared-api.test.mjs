// The API suite shared with the Node package (js/test/api.mjs, served as
// /js-test/api.mjs), run in the test harness page: each test runs in the
// page against the package there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harnessPage } from './browser.mjs';
import { tests } from '../../js/test/api.mjs';

/** @type {import('playwright-core').Page} */
let page;
harnessPage((p) => {
  page = p;
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
