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

  // Several tabs on one pond.
  const other = await env.page('/bench/index.html');
  await other.waitForFunction(() => /** @type {any} */ (window).ready === true);
  other.setDefaultTimeout(600_000);
  const tabN = Math.min(records, 200_000);
  const produce = (/** @type {import('playwright-core').Page} */ p, /** @type {string} */ name) =>
    p.evaluate(({ name, n }) => /** @type {any} */ (window).bench.produceIn(name, n), { name, n: tabN });
  const alone = await produce(page, 'tabs-1');
  console.log(`web_produce_1_tab: ${Math.round(tabN / (alone / 1000) / 1000)}k records/s (sendMany × 1000, awaited, ${tabN} records)`);
  const [a, b] = await Promise.all([produce(page, 'tabs-2'), produce(other, 'tabs-2')]);
  const both = (2 * tabN) / (Math.max(a, b) / 1000);
  console.log(`web_produce_2_tabs: ${Math.round(both / 1000)}k records/s together (${tabN} records from each; ${(both / (tabN / (alone / 1000))).toFixed(2)}x one tab)`);

  for (const how of ['receive', 'poll']) {
    const name = `latency-${how}`;
    await page.evaluate(async (name) => {
      const { Pond } = await import('/src/index.js');
      await Pond.deleteIndexedDb(name);
      const pond = await Pond.openIndexedDb(name);
      await pond.createTopic('ping');
      await pond.close();
    }, name);
    const count = 200;
    const waiting = page.evaluate(({ name, how, count }) => /** @type {any} */ (window).bench.waitFor(name, how, count), { name, how, count });
    await page.waitForFunction(() => /** @type {any} */ (window).listening === true);
    await page.evaluate(() => {
      /** @type {any} */ (window).listening = false;
    });
    await other.evaluate(({ name, count }) => /** @type {any} */ (window).bench.ping(name, count, 10), { name, count });
    const lat = /** @type {number[]} */ (await waiting).sort((x, y) => x - y);
    const q = (/** @type {number} */ f) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))].toFixed(1);
    console.log(`web_cross_tab_${how}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms (send in one tab -> wakeup of a waiting ${how} in another, ${count} records)`);
  }
} finally {
  await env.close();
}
