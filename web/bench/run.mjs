// `make bench-web`: runs the benchmark page in headless Chromium and prints
// its lines (`web_produce_flush_100B: 350k records/s`, ...).

import { setup } from '../test/browser.mjs';

const records = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const env = await setup();
try {
  const page = await env.page('/bench/index.html');
  await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
  await page.exposeFunction('benchLog', (/** @type {string} */ line) => console.log(line));
  page.setDefaultTimeout(600_000);
  await page.evaluate(
    (n) => /** @type {any} */ (window).runAll({ records: n, log: /** @type {any} */ (window).benchLog }),
    records,
  );
} finally {
  await env.close();
}
