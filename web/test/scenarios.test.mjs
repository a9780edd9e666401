// Runs every conformance scenario (tests/scenarios/*.json) in a real page,
// each on a fresh IndexedDB pond.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup } from './browser.mjs';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tests/scenarios');
const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();

/** @type {Awaited<ReturnType<typeof setup>>} */
let env;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  env = await setup();
  page = await env.page('/test/pages/scenarios.html');
  await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
});

after(async () => {
  await env?.close();
});

test('the suite has every scenario', () => {
  assert.ok(files.length >= 30, `at least 30 scenarios, found ${files.length}`);
});

for (const file of files) {
  test(`scenario ${file}`, async () => {
    const scenario = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
    const failures = await page.evaluate((s) => /** @type {any} */ (window).runScenario(s), scenario);
    assert.deepEqual(failures, []);
    assert.deepEqual(/** @type {any} */ (page).errors, []);
  });
}
