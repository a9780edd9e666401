// The demo page: it runs, takes a burst of orders through the group and
// the queue, keeps everything over a reload, and leaves a screenshot in
// target/web-demo.png (not committed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup } from './browser.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOT = path.join(ROOT, 'target/web-demo.png');

/** @type {Awaited<ReturnType<typeof setup>>} */
let env;

before(async () => {
  env = await setup();
});

after(async () => {
  await env?.close();
});

test('the demo runs, survives a reload, and gets a screenshot', async () => {
  const page = await env.page('/demo/');
  await page.waitForSelector('body.ready', { timeout: 20_000 });
  await page.click('#burst');
  await page.selectOption('#customer', 'grace');
  await page.click('button.primary');
  // Let the members and workers take some of them.
  await page.waitForFunction(() => {
    const d = /** @type {any} */ (window).demo;
    return d.members.every((m) => m.processed >= 3) && d.workers.some((w) => w.shipped >= 1);
  }, null, { timeout: 30_000 });
  await page.waitForTimeout(600);
  await mkdir(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: SHOT, fullPage: true });
  const before = await page.evaluate(async () => {
    const d = /** @type {any} */ (window).demo;
    await d.pond.flush();
    return d.stats();
  });
  assert.equal(before.records, 12 + 25 + 1);

  await page.reload();
  await page.waitForSelector('body.ready', { timeout: 20_000 });
  const after = await page.evaluate(() => /** @type {any} */ (window).demo.stats());
  assert.equal(after.records, before.records);
  // Committed offsets and acks survived (they only move forward).
  for (let p = 0; p < 4; p++) assert.ok((after.committed[p] ?? 0) >= (before.committed[p] ?? 0), `partition ${p}`);
  assert.ok(after.backlog <= before.backlog);
  assert.ok(before.backlog < before.records, 'some orders were shipped before the reload');

  // "Export .tar" gives a pond directory the Rust core opens.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'logpond-demo-export-'));
  try {
    execFileSync('tar', ['-xf', await download.path(), '-C', dir]);
    const out = execFileSync('cargo', ['run', '--quiet', '-p', 'logpond-wasm', '--example', 'dump_pond', '--', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const orders = JSON.parse(out).topics.orders;
    assert.ok(orders.reduce((n, p) => n + p.records.length, 0) >= before.records);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.deepEqual(/** @type {any} */ (page).errors, []);
});
