// The browser benchmark: logpond producing and consuming 100-byte records
// on IndexedDB, against writing the same records straight to IndexedDB.

import { Pond } from '/src/index.js';

const VALUE_BYTES = 100;
const BATCH = 1000;

/** A 100-byte value whose first bytes carry `i`. @param {number} i */
function value(i) {
  const v = new Uint8Array(VALUE_BYTES);
  v.fill(97);
  new DataView(v.buffer).setUint32(0, i);
  return v;
}

/** @param {number} n @param {number} ms */
const rate = (n, ms) => {
  const r = n / (ms / 1000);
  return r >= 10_000 ? `${Math.round(r / 1000)}k records/s` : `${(r / 1000).toFixed(1)}k records/s`;
};

/** @param {IDBRequest | IDBOpenDBRequest} r @returns {Promise<any>} */
const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });

/** @param {IDBTransaction} tx */
const txDone = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = () => reject(tx.error); });

/**
 * @param {{ records?: number, idbRecords?: number, log?: (line: string) => void, durability?: 'default' | 'strict' | 'relaxed' }} [options]
 * @returns {Promise<Record<string, number>>}
 */
export async function runAll(options = {}) {
  const n = options.records ?? 1_000_000;
  const log = options.log ?? console.log;
  const durability = options.durability ?? 'default';
  /** @type {Record<string, number>} */
  const results = {};
  const values = Array.from({ length: BATCH }, (_, i) => value(i));

  // 1. logpond: sendMany in batches of 1000, each awaited (one write
  // transaction per batch), then flush.
  await Pond.deleteIndexedDb('bench');
  let pond = await Pond.openIndexedDb('bench', { durability });
  await pond.createTopic('events');
  let t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) await pond.sendMany('events', values);
  await pond.flush();
  let ms = performance.now() - t0;
  results.web_produce_flush_100B = n / (ms / 1000);
  log(`web_produce_flush_100B: ${rate(n, ms)} (sendMany × ${BATCH}, each awaited, ${Math.round(ms)} ms, ${Math.round(pond.memoryBytes() / 1e6)} MB)`);

  // 2. Consume them all as a consumer group.
  const c = await pond.consumer({ group: 'bench', topics: ['events'], autoOffsetReset: 'earliest' });
  t0 = performance.now();
  let got = 0;
  while (got < n) got += (await c.poll({ maxRecords: 5000 })).length;
  ms = performance.now() - t0;
  results.web_consume_100B = got / (ms / 1000);
  log(`web_consume_100B: ${rate(got, ms)} (consumer group, poll × 5000, ${Math.round(ms)} ms)`);
  await c.close();

  // 2b. Iterate with for await (one record per step; the records a
  // transaction fetched are handed out between transactions).
  const iterated = Math.min(n, 100_000);
  const it = await pond.consumer({ group: 'bench-iter', topics: ['events'], autoOffsetReset: 'earliest' });
  t0 = performance.now();
  let seen = 0;
  for await (const r of it) {
    void r;
    if (++seen === iterated) break;
  }
  ms = performance.now() - t0;
  results.web_iterate_100B = iterated / (ms / 1000);
  log(`web_iterate_100B: ${rate(iterated, ms)} (for await over a consumer, ${iterated} records)`);
  await it.close();
  await pond.close();

  // 3. Reopen: load the whole pond back from IndexedDB.
  t0 = performance.now();
  pond = await Pond.openIndexedDb('bench', { durability });
  ms = performance.now() - t0;
  const end = pond.offsets('events').endOffset;
  results.web_open_ms = ms;
  log(`web_open_1M_100B: ${Math.round(ms)} ms (${end} records back)`);
  await pond.close();
  await Pond.deleteIndexedDb('bench');

  // 4. The same with IndexedDB's 'strict' durability (each flush waits for the disk).
  pond = await Pond.openIndexedDb('bench', { durability: 'strict' });
  await pond.createTopic('events');
  t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) await pond.sendMany('events', values);
  await pond.flush();
  ms = performance.now() - t0;
  results.web_produce_flush_100B_strict = n / (ms / 1000);
  log(`web_produce_flush_100B_strict: ${rate(n, ms)} (sendMany × ${BATCH}, durability 'strict', ${Math.round(ms)} ms)`);
  await pond.close();
  await Pond.deleteIndexedDb('bench');

  // 5. logpond: one send per record, not awaited one by one (sends called
  // while a transaction runs share the next), in chunks of 10,000.
  const m = n;
  pond = await Pond.openIndexedDb('bench', { durability });
  await pond.createTopic('events');
  t0 = performance.now();
  for (let i = 0; i < m; i += 10_000) {
    const sends = [];
    for (let j = i; j < Math.min(m, i + 10_000); j++) sends.push(pond.send('events', values[j % BATCH]));
    await Promise.all(sends);
  }
  ms = performance.now() - t0;
  results.web_produce_flush_100B_send = m / (ms / 1000);
  log(`web_produce_flush_100B_send: ${rate(m, ms)} (one send() per record, awaited per 10,000, ${Math.round(ms)} ms)`);

  // 5b. One send per record, each awaited before the next: a write
  // transaction per send (its latency).
  const one = 500;
  t0 = performance.now();
  for (let i = 0; i < one; i++) await pond.send('events', values[i % BATCH]);
  ms = performance.now() - t0;
  results.web_send_awaited_ms = ms / one;
  log(`web_send_awaited: ${(ms / one).toFixed(2)} ms per awaited send (${one} sends, one transaction each)`);
  await pond.close();
  await Pond.deleteIndexedDb('bench');

  // 6. Straight to IndexedDB: one put per record (keyed by its index, the
  // faster variant here), 1000 puts per transaction. IndexedDB takes a few
  // thousand puts a second, so this runs on at most IDB_RECORDS records
  // (the rate does not depend on the count).
  const p = Math.min(n, options.idbRecords ?? 100_000);
  await req(indexedDB.deleteDatabase('bench-idb'));
  const open = indexedDB.open('bench-idb', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('records');
  const db = await req(open);
  t0 = performance.now();
  for (let i = 0; i < p; i += BATCH) {
    const tx = db.transaction('records', 'readwrite', { durability });
    const store = tx.objectStore('records');
    for (let j = 0; j < BATCH; j++) store.put(values[j], i + j);
    await txDone(tx);
  }
  ms = performance.now() - t0;
  results.web_idb_put_100B = p / (ms / 1000);
  log(`web_idb_put_100B: ${rate(p, ms)} (straight to IndexedDB, one put per record, ${BATCH} per transaction, ${p} records)`);

  // 7. Straight to IndexedDB: one transaction per record (what a naive
  // "durable on every send" would do).
  const k = Math.min(n, options.idbRecords === undefined ? 10_000 : options.idbRecords / 10);
  t0 = performance.now();
  for (let i = 0; i < k; i += 100) {
    const batch = [];
    for (let j = 0; j < 100; j++) {
      const tx = db.transaction('records', 'readwrite', { durability });
      tx.objectStore('records').put(values[j], p + i + j);
      batch.push(txDone(tx));
    }
    await Promise.all(batch);
  }
  ms = performance.now() - t0;
  results.web_idb_tx_per_record_100B = k / (ms / 1000);
  log(`web_idb_tx_per_record_100B: ${rate(k, ms)} (one put and one transaction per record, ${k} records)`);
  db.close();
  await req(indexedDB.deleteDatabase('bench-idb'));
  return results;
}

// ---- several tabs (bench/run.mjs opens the pages) ----------------------------

/**
 * Sends `n` records to topic `events` of pond `name` with sendMany in
 * batches of 1000, each awaited; resolves the milliseconds it took.
 * @param {string} name @param {number} n
 */
export async function produceIn(name, n) {
  const values = Array.from({ length: BATCH }, (_, i) => value(i));
  const pond = await Pond.openIndexedDb(name);
  if (!pond.hasTopic('events')) await pond.createTopic('events').catch(() => {});
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) await pond.sendMany('events', values);
  const ms = performance.now() - t0;
  await pond.close();
  return ms;
}

/** The time on a clock every page of the browser shares (ms). */
const now = () => performance.timeOrigin + performance.now();

/**
 * Waits for `count` records on pond `name`, topic `ping`, with a waiting
 * queue receive (`receive`) or a waiting group poll (`poll`); each value
 * carries the time it was sent. Resolves the latencies (ms), send to wakeup.
 * @param {string} name @param {'receive' | 'poll'} how @param {number} count
 */
export async function waitFor(name, how, count) {
  const pond = await Pond.openIndexedDb(name);
  const latencies = [];
  const take = (/** @type {Uint8Array} */ v) => latencies.push(now() - new DataView(v.buffer, v.byteOffset).getFloat64(0));
  if (how === 'receive') {
    const q = await pond.queue('ping', { subscription: 'bench' });
    /** @type {any} */ (window).listening = true;
    while (latencies.length < count) {
      const got = await q.receive({ maxMessages: 10, timeoutMs: 5000 });
      for (const d of got) take(d.record.value);
      if (got.length > 0) await q.ackMany(got);
    }
  } else {
    const c = await pond.consumer({ group: 'bench', topics: ['ping'], autoOffsetReset: 'latest' });
    await c.poll();
    /** @type {any} */ (window).listening = true;
    while (latencies.length < count) for (const r of await c.poll({ maxRecords: 10, timeoutMs: 5000 })) take(r.value);
    await c.close();
  }
  await pond.close();
  return latencies;
}

/**
 * Sends `count` records to pond `name`, topic `ping`, one every `gapMs`,
 * each carrying the time it was sent.
 * @param {string} name @param {number} count @param {number} gapMs
 */
export async function ping(name, count, gapMs) {
  const pond = await Pond.openIndexedDb(name);
  for (let i = 0; i < count; i++) {
    const v = new Uint8Array(16);
    new DataView(v.buffer).setFloat64(0, now());
    await pond.send('ping', v);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await pond.close();
}
