// IndexedDB persistence in a real page: records, group offsets and queue
// state come back after a reload and after relaunching the browser; a
// write IndexedDB refuses closes the pond; a pond moves between a tab and
// a directory.

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
  const c = await pond.consumer({ group: 'billing', topics: ['orders'], autoCommit: false });
  const committed = [c.committed('orders', 0), c.committed('orders', 1)];
  // A member of the group resumes from the committed offsets.
  const resumed = (await c.poll({ maxRecords: 1000, timeoutMs: 5000 })).length;
  await c.close();
  const q = await pond.queue('orders', { subscription: 'workers' });
  const backlog = q.backlog();
  const inFlight = q.inFlight();
  await q.close();
  await pond.close();
  return { values: values.sort(), committed, resumed, backlog, inFlight };
}

test('records, group offsets and queue state survive a reload and a browser relaunch', async () => {
  let page = await env.page();
  const before = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('persist');
    const pond = await Pond.openIndexedDb('persist');
    await pond.createTopic('orders', { partitions: 2 });
    const records = [];
    for (let i = 0; i < 100; i++) records.push({ key: `customer-${i % 7}`, value: `order ${String(i).padStart(3, '0')}` });
    await pond.sendMany('orders', records);
    const c = await pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false });
    const polled = await c.poll({ maxRecords: 30 });
    await c.commit();
    const committed = [c.committed('orders', 0), c.committed('orders', 1)];
    const q = await pond.queue('orders', { subscription: 'workers' });
    const got = await q.receive({ maxMessages: 10 });
    for (const d of got.slice(0, 4)) await d.ack();
    await got[4].nack();
    const backlog = q.backlog();
    // Closing them leaves the group and returns the 5 leases at once (a
    // tab that goes without closing: tabs.test.mjs).
    await q.close();
    await c.close();
    await pond.close();
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
  // The leases held when the pond closed were returned.
  assert.equal(afterReload.backlog, 96);
  assert.equal(afterReload.inFlight, 0);

  await env.relaunch();
  page = await env.page();
  const afterRelaunch = await page.evaluate(inspect);
  assert.deepEqual(afterRelaunch, afterReload);
  assert.deepEqual(/** @type {any} */ (page).errors, []);
});

test('IndexedDB holds what the pond holds once its writes resolve, without flush()', async () => {
  const page = await env.page();
  const same = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('auto');
    const pond = await Pond.openIndexedDb('auto');
    await pond.createTopic('t');
    for (let i = 0; i < 50; i++) await pond.send('t', `record ${i}`);
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

test('a tab crash loses no write that resolved; of those in flight, at most a tail', async () => {
  let page = await env.page();
  await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('crash');
    const pond = await Pond.openIndexedDb('crash');
    await pond.createTopic('t');
    for (let i = 0; i < 10; i++) await pond.send('t', `kept ${i}`);
    // Not awaited: the crash comes while these are being written.
    for (let i = 0; i < 50; i++) pond.send('t', `maybe ${i}`);
    /** @type {any} */ (window).pond = pond; // keep it alive
  });
  // Kill the renderer: no pagehide, no close.
  await page.goto('chrome://crash').catch(() => {});
  await page.close().catch(() => {});
  page = await env.page();
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('crash');
    const out = pond.read('t', 0, { maxRecords: 1000 }).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.close();
    return out;
  });
  const kept = Array.from({ length: 10 }, (_, i) => `kept ${i}`);
  assert.deepEqual(values.slice(0, 10), kept);
  const rest = values.slice(10);
  assert.deepEqual(rest, Array.from({ length: rest.length }, (_, i) => `maybe ${i}`), 'a prefix of the writes in flight, in order');
});

test('a write that resolved survives a reload at once', async () => {
  const page = await env.page();
  await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('hide');
    const pond = await Pond.openIndexedDb('hide');
    await pond.createTopic('t');
    await pond.send('t', 'written before the reload');
    /** @type {any} */ (window).pond = pond;
  });
  await page.reload();
  await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('hide');
    const out = pond.read('t', 0).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.close();
    return out;
  });
  assert.deepEqual(values, ['written before the reload']);
});

test('a write IndexedDB refuses rejects with IoError and closes the pond; what resolved before is kept', async () => {
  let page = await env.page();
  const result = await page.evaluate(async () => {
    const { Pond, IoError } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('quota');
    const failures = [];
    const pond = await Pond.openIndexedDb('quota', { onFlushError: (e) => failures.push(e) });
    await pond.createTopic('t');
    await pond.send('t', 'a');
    // IndexedDB refuses writes, as when the quota is exceeded.
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('quota exceeded (simulated)', 'QuotaExceededError');
    };
    let error;
    try {
      await pond.send('t', 'b');
    } catch (e) {
      error = e;
    }
    IDBObjectStore.prototype.put = put;
    let after;
    try {
      await pond.send('t', 'c');
    } catch (e) {
      after = e.code;
    }
    return {
      isIoError: error instanceof IoError,
      code: error?.code,
      cause: error?.cause?.name,
      last: pond.lastFlushError?.code,
      reported: failures.length === 1 && failures[0] === error,
      closed: pond.closed,
      after,
      flush: await pond.flush().then(
        () => 'resolved',
        (e) => e.code,
      ),
    };
  });
  assert.deepEqual(result, { isIoError: true, code: 'IO', cause: 'QuotaExceededError', last: 'IO', reported: true, closed: true, after: 'IO', flush: 'IO' });
  await page.close();
  page = await env.page();
  const values = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('quota');
    const out = pond.read('t', 0).map((r) => /** @type {any} */ (window).text(r.value));
    await pond.send('t', 'd');
    await pond.close();
    return out;
  });
  assert.deepEqual(values, ['a']);
});

test('a pond opens in many places at once; one read through a ManualClock is held alone (PondLocked)', async () => {
  const page = await env.page();
  const other = await env.page();
  const first = await page.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('locked');
    const a = await Pond.openIndexedDb('locked');
    const b = await Pond.openIndexedDb('locked');
    await a.createTopic('t');
    await b.send('t', 'from b');
    await a.send('t', 'from a');
    const seen = a.read('t', 0).length;
    /** @type {any} */ (window).pond = a;
    await b.close();
    const manual = await Pond.openIndexedDb('locked', { clock: new ManualClock(0), lockTimeoutMs: 50 }).then(
      () => 'opened',
      (e) => e.code,
    );
    return { seen, manual };
  });
  assert.deepEqual(first, { seen: 2, manual: 'POND_LOCKED' });
  const fromOtherTab = await other.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('locked');
    const n = pond.read('t', 0).length;
    await pond.close();
    return n;
  });
  assert.equal(fromOtherTab, 2);
  await page.evaluate(() => /** @type {any} */ (window).pond.close());
  const manual = await other.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    const pond = await Pond.openIndexedDb('locked', { clock: new ManualClock(0) });
    const shared = await Pond.openIndexedDb('locked', { lockTimeoutMs: 50 }).then(
      () => 'opened',
      (e) => e.code,
    );
    await pond.close();
    return shared;
  });
  assert.equal(manual, 'POND_LOCKED');
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
    await pond.createTopic('orders', { partitions: 3 });
    await pond.createTopic('audit');
    for (let i = 0; i < 20; i++) await pond.send('orders', `order ${i}`, { key: `k${i % 5}`, headers: [['source', 'web']] });
    await pond.send('audit', null, { key: 'tombstone' });
    const c = await pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest' });
    await c.poll({ maxRecords: 7 });
    await c.commit();
    await c.close();
    const q = await pond.queue('orders', { subscription: 'workers' });
    for (const d of await q.receive({ maxMessages: 5 })) await d.ack();
    await q.close();
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
      const q = await pond.queue('orders', { subscription: 'workers' });
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
            const read = async (group) => {
              const c = await pond.consumer({ group, topics: ['orders'] });
              const v = [c.committed('orders', 0), c.committed('orders', 1)];
              await c.close();
              return v;
            };
            out.committed = { billing: { orders: await read('billing') }, audit: { orders: await read('audit') } };
          }
          if (name === 'queues') {
            const q = await pond.queue('jobs', { subscription: 'workers' });
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
