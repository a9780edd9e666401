// IndexedDB persistence in a real page: records, group offsets and queue
// state come back after a reload and after relaunching the browser; flush
// failures requeue; a pond moves between a tab and a directory.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup } from './browser.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** @type {Awaited<ReturnType<typeof setup>>} */
let env;

before(async () => {
  env = await setup();
});

after(async () => {
  await env?.close();
});

/** What a reopened pond must show. Runs in the page. */
async function inspect() {
  const { Pond } = /** @type {any} */ (window).logpond;
  const text = /** @type {any} */ (window).text;
  const pond = await Pond.openIndexedDb('persist');
  const values = [];
  for (const p of [0, 1]) {
    for (const r of pond.read('orders', p, { maxRecords: 1000 })) values.push(text(r.value));
  }
  const c = pond.consumer({ group: 'billing', topics: ['orders'], autoCommit: false });
  const committed = [c.committed('orders', 0), c.committed('orders', 1)];
  // A member of the group resumes from the committed offsets.
  const resumed = (await c.poll({ maxRecords: 1000 })).length;
  c.close();
  const q = pond.queue('orders', { subscription: 'workers' });
  const backlog = q.backlog();
  const inFlight = q.inFlight();
  q.close();
  await pond.close();
  return { values: values.sort(), committed, resumed, backlog, inFlight };
}

test('records, group offsets and queue state survive a reload and a browser relaunch', async () => {
  let page = await env.page();
  const before = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('persist');
    const pond = await Pond.openIndexedDb('persist');
    pond.createTopic('orders', { partitions: 2 });
    const records = [];
    for (let i = 0; i < 100; i++) records.push({ key: `customer-${i % 7}`, value: `order ${String(i).padStart(3, '0')}` });
    pond.sendMany('orders', records);
    const c = pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false });
    const polled = await c.poll({ maxRecords: 30 });
    c.commit();
    const committed = [c.committed('orders', 0), c.committed('orders', 1)];
    const q = pond.queue('orders', { subscription: 'workers' });
    const got = await q.receive({ maxMessages: 10 });
    for (const d of got.slice(0, 4)) d.ack();
    got[4].nack();
    await pond.flush();
    const backlog = q.backlog();
    return { polled: polled.length, committed, backlog };
  });
  assert.equal(before.polled, 30);
  assert.equal(before.backlog, 96);
  const expectedValues = Array.from({ length: 100 }, (_, i) => `order ${String(i).padStart(3, '0')}`);

  await page.reload();
  await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
  const afterReload = await page.evaluate(inspect);
  assert.deepEqual(afterReload.values, expectedValues);
  assert.deepEqual(afterReload.committed, before.committed);
  assert.equal(afterReload.resumed, 70);
  // Leases held when the pond closed are released on reopen.
  assert.equal(afterReload.backlog, 96);
  assert.equal(afterReload.inFlight, 0);

  await env.relaunch();
  page = await env.page();
  const afterRelaunch = await page.evaluate(inspect);
  assert.deepEqual(afterRelaunch, afterReload);
  assert.deepEqual(/** @type {any} */ (page).errors, []);
});

test('IndexedDB holds what the pond holds after an automatic flush, without flush()', async () => {
  const page = await env.page();
  const same = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('auto');
    const pond = await Pond.openIndexedDb('auto', { flushIntervalMs: 20 });
    pond.createTopic('t');
    for (let i = 0; i < 50; i++) pond.send('t', `record ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    // Read the database directly and rebuild the files from their pages.
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('logpond:auto');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const all = (store, method) =>
      new Promise((resolve, reject) => {
        const r = db.transaction(store).objectStore(store)[method]();
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const [names, lens, pageKeys, pages] = await Promise.all([
      all('files', 'getAllKeys'),
      all('files', 'getAll'),
      all('pages', 'getAllKeys'),
      all('pages', 'getAll'),
    ]);
    db.close();
    const stored = new Map(names.map((n, i) => [n, new Uint8Array(lens[i].len)]));
    pageKeys.forEach(([name, index], i) => stored.get(name)?.set(pages[i].subarray(0, stored.get(name).length - index * 65536), index * 65536));
    const exported = pond.exportFiles();
    await pond.close();
    return (
      exported.length === stored.size &&
      exported.every((f) => stored.has(f.name) && stored.get(f.name).join() === f.bytes.join())
    );
  });
  assert.equal(same, true);
});

test('a tab crash loses at most what was sent since the last completed flush', async () => {
  let page = await env.page();
  await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('crash');
    // No automatic flush: only flush() writes back.
    const pond = await Pond.openIndexedDb('crash', { flushIntervalMs: Infinity });
    pond.createTopic('t');
    for (let i = 0; i < 10; i++) pond.send('t', `kept ${i}`);
    await pond.flush();
    for (let i = 0; i < 5; i++) pond.send('t', `lost ${i}`);
    /** @type {any} */ (window).pond = pond; // keep it (and its lock) alive
  });
  // Kill the renderer: no pagehide, no flush.
  await page.goto('chrome://crash').catch(() => {});
  await page.close().catch(() => {});
  page = await env.page();
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('crash', { lockTimeoutMs: 5000 });
    const out = pond.read('t', 0).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.close();
    return out;
  });
  assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `kept ${i}`));
});

test('leaving the page flushes (pagehide)', async () => {
  const page = await env.page();
  await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('hide');
    const pond = await Pond.openIndexedDb('hide', { flushIntervalMs: Infinity });
    pond.createTopic('t');
    await pond.flush();
    pond.send('t', 'written on pagehide');
    /** @type {any} */ (window).pond = pond;
  });
  await page.reload();
  await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('hide', { lockTimeoutMs: 5000 });
    const out = pond.read('t', 0).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.close();
    return out;
  });
  assert.deepEqual(values, ['written on pagehide']);
});

test('a failed flush surfaces as IoError and its changes are written by the next one', async () => {
  let page = await env.page();
  const result = await page.evaluate(async () => {
    const { Pond, IoError } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('quota');
    const flushErrors = [];
    const pond = await Pond.openIndexedDb('quota', { flushIntervalMs: 10, onFlushError: (e) => flushErrors.push(e) });
    pond.createTopic('t');
    pond.send('t', 'a');
    await pond.flush();
    // IndexedDB refuses writes for a while, as when the quota is exceeded.
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('quota exceeded (simulated)', 'QuotaExceededError');
    };
    pond.send('t', 'b');
    let error;
    try {
      await pond.flush();
    } catch (e) {
      error = e;
    }
    pond.send('t', 'c');
    await new Promise((r) => setTimeout(r, 100)); // an automatic flush fails too
    const seen = {
      isIoError: error instanceof IoError,
      code: error?.code,
      cause: error?.cause?.name,
      last: pond.lastFlushError?.code,
      automatic: flushErrors.length > 0 && flushErrors.every((e) => e.code === 'IO'),
    };
    IDBObjectStore.prototype.put = put;
    await pond.flush();
    seen.lastAfter = pond.lastFlushError;
    /** @type {any} */ (window).pond = pond;
    return seen;
  });
  assert.deepEqual(result, { isIoError: true, code: 'IO', cause: 'QuotaExceededError', last: 'IO', automatic: true, lastAfter: null });
  // Crash the tab: what the successful flush wrote must be all there.
  await page.goto('chrome://crash').catch(() => {});
  await page.close().catch(() => {});
  page = await env.page();
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('quota', { lockTimeoutMs: 5000 });
    const out = pond.read('t', 0).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.close();
    return out;
  });
  assert.deepEqual(values, ['a', 'b', 'c']);
});

test('one pond is open in one place at a time (PondLocked)', async () => {
  const page = await env.page();
  const other = await env.page();
  const first = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    /** @type {any} */ (window).pond = await Pond.openIndexedDb('locked');
    try {
      await Pond.openIndexedDb('locked', { lockTimeoutMs: 50 });
      return 'opened twice';
    } catch (e) {
      return [e.name, e.code];
    }
  });
  assert.deepEqual(first, ['PondLocked', 'POND_LOCKED']);
  const fromOtherTab = await other.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    return Pond.openIndexedDb('locked', { lockTimeoutMs: 50 }).then(
      () => 'opened',
      (e) => e.code,
    );
  });
  assert.equal(fromOtherTab, 'POND_LOCKED');
  await page.evaluate(() => /** @type {any} */ (window).pond.close());
  const afterClose = await other.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('locked', { lockTimeoutMs: 1000 });
    await pond.close();
    return 'opened';
  });
  assert.equal(afterClose, 'opened');
});

/** Every file under `dir`, by `/`-separated relative name. @param {string} dir */
async function readTree(dir) {
  /** @type {Array<{ name: string, bytes: string }>} */
  const out = [];
  /** @param {string} at @param {string} rel */
  async function walk(at, rel) {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(path.join(at, e.name), name);
      else if (e.name !== 'LOCK') out.push({ name, bytes: (await readFile(path.join(at, e.name))).toString('base64') });
    }
  }
  await walk(dir, '');
  return out;
}

test('a pond exported from a tab opens as a directory in Rust, and back', async () => {
  const page = await env.page();
  const exported = await page.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('export');
    const pond = await Pond.openIndexedDb('export', { clock: new ManualClock(1_700_000_000_000) });
    pond.createTopic('orders', { partitions: 3 });
    pond.createTopic('audit');
    for (let i = 0; i < 20; i++) pond.send('orders', `order ${i}`, { key: `k${i % 5}`, headers: [['source', 'web']] });
    pond.send('audit', null, { key: 'tombstone' });
    const c = pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest' });
    await c.poll({ maxRecords: 7 });
    c.commit();
    c.close();
    const q = pond.queue('orders', { subscription: 'workers' });
    for (const d of await q.receive({ maxMessages: 5 })) d.ack();
    q.close();
    await pond.close();
    return pond.exportFiles().map((f) => ({ name: f.name, bytes: /** @type {any} */ (window).toBase64(f.bytes) }));
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'logpond-export-'));
  try {
    for (const f of exported) {
      await mkdir(path.dirname(path.join(dir, f.name)), { recursive: true });
      await writeFile(path.join(dir, f.name), Buffer.from(f.bytes, 'base64'));
    }
    const out = execFileSync(
      'cargo',
      ['run', '--quiet', '-p', 'logpond-wasm', '--example', 'dump_pond', '--', dir, '--group', 'billing', '--queue', 'orders/workers'],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const dump = JSON.parse(out);
    // Kept for the cross-runtime test (tests/polyglot): Python opens this export.
    const keep = path.join(ROOT, 'target', 'web-export');
    await rm(keep, { recursive: true, force: true });
    for (const f of exported) {
      await mkdir(path.dirname(path.join(keep, 'pond', f.name)), { recursive: true });
      await writeFile(path.join(keep, 'pond', f.name), Buffer.from(f.bytes, 'base64'));
    }
    await writeFile(path.join(keep, 'expected.json'), JSON.stringify(dump, null, 1));
    const orders = dump.topics.orders;
    assert.equal(orders.length, 3);
    assert.equal(orders.reduce((n, p) => n + p.records.length, 0), 20);
    for (const p of orders) for (const r of p.records) assert.deepEqual(r.headers, [['source', 'web']]);
    assert.deepEqual(dump.topics.audit[0].records.map((r) => [r.key, r.value]), [['tombstone', null]]);
    const committed = dump.committed.billing.orders;
    assert.equal(committed.reduce((n, o) => n + (o ?? 0), 0), 7);
    assert.equal(dump.backlog['orders/workers'], 15);

    // And back: the directory (as Rust left it) imported into a tab.
    const files = await readTree(dir);
    const back = await page.evaluate(async (files) => {
      const { Pond } = /** @type {any} */ (window).logpond;
      const w = /** @type {any} */ (window);
      const pond = await Pond.importFiles(
        files.map((f) => ({ name: f.name, bytes: w.fromBase64(f.bytes) })),
        { indexedDb: 'export', replace: true },
      );
      const n = pond.describe('orders').partitions.reduce((s, p) => s + p.endOffset, 0);
      const q = pond.queue('orders', { subscription: 'workers' });
      const backlog = q.backlog();
      await pond.close();
      return { n, backlog };
    }, files);
    assert.deepEqual(back, { n: 20, backlog: 15 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the test vectors (ponds written by Rust) read back as expected', async () => {
  const page = await env.page();
  const vectors = path.join(ROOT, 'tests/vectors');
  for (const name of (await readdir(vectors, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)) {
    const files = await readTree(path.join(vectors, name, 'pond'));
    const want = JSON.parse(await readFile(path.join(vectors, name, 'expected.json'), 'utf8'));
    for (const where of ['memory', 'indexedDb']) {
      const got = await page.evaluate(
        async ({ name, files, where }) => {
          const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
          const w = /** @type {any} */ (window);
          const options = { clock: new ManualClock(1_700_000_000_000) };
          if (where === 'indexedDb') Object.assign(options, { indexedDb: `vector-${name}`, replace: true });
          const pond = await Pond.importFiles(files.map((f) => ({ name: f.name, bytes: w.fromBase64(f.bytes) })), options);
          const topics = {};
          for (const topic of pond.topics()) {
            topics[topic] = pond.describe(topic).partitions.map((p) => {
              const records = [];
              let next = p.startOffset;
              while (next < p.endOffset) {
                const batch = pond.read(topic, p.partition, { offset: next, maxRecords: 1000 });
                if (batch.length === 0) break;
                next = batch[batch.length - 1].offset + 1;
                for (const r of batch) {
                  records.push({
                    offset: r.offset,
                    timestamp_ms: r.timestampMs,
                    key: w.text(r.key),
                    value: w.text(r.value),
                    headers: r.headers.map(([n, v]) => [n, w.text(v)]),
                  });
                }
              }
              return { partition: p.partition, start_offset: p.startOffset, end_offset: p.endOffset, records };
            });
          }
          const out = { vector: name, topics };
          if (name === 'groups') {
            const read = (group) => {
              const c = pond.consumer({ group, topics: ['orders'] });
              const v = [c.committed('orders', 0), c.committed('orders', 1)];
              c.close();
              return v;
            };
            out.committed = { billing: { orders: read('billing') }, audit: { orders: read('audit') } };
          }
          if (name === 'queues') {
            const q = pond.queue('jobs', { subscription: 'workers' });
            const backlog = q.backlog();
            const deliverable = (await q.receive({ maxMessages: 100 })).map((d) => ({ offset: d.record.offset, delivery_count: d.deliveryCount }));
            out.queues = { jobs: { workers: { backlog, deliverable } } };
          }
          await pond.close();
          if (where === 'indexedDb') await Pond.deleteIndexedDb(`vector-${name}`);
          return out;
        },
        { name, files, where },
      );
      assert.deepEqual(got, want, `${name} (${where})`);
    }
  }
});
