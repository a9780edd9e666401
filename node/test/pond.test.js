'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Pond, ManualClock } = require('logpond');
const { tempDir, str } = require('./helpers.js');

test('create, list, describe and delete topics', () => {
  const pond = Pond.memory();
  assert.deepEqual(pond.topics(), []);
  pond.createTopic('orders', { partitions: 3, retentionMs: 60_000, maxRecordBytes: 1000, segmentBytes: 4096 });
  pond.createTopic('audit', { compact: true, retentionBytes: 1 << 20, retentionRecords: 100, maxBacklog: 10 });
  pond.createTopic('plain');
  assert.deepEqual(pond.topics(), ['audit', 'orders', 'plain']);
  assert.equal(pond.hasTopic('orders'), true);
  assert.equal(pond.hasTopic('nope'), false);

  const info = pond.describe('orders');
  assert.equal(info.name, 'orders');
  assert.deepEqual(
    info.partitions.map(({ partition, startOffset, endOffset }) => ({ partition, startOffset, endOffset })),
    [
      { partition: 0, startOffset: 0, endOffset: 0 },
      { partition: 1, startOffset: 0, endOffset: 0 },
      { partition: 2, startOffset: 0, endOffset: 0 },
    ],
  );
  for (const p of info.partitions) assert.equal(typeof p.bytes, 'number');
  assert.equal(info.config.partitions, 3);
  assert.equal(info.config.retentionMs, 60_000);
  assert.equal(info.config.retentionBytes, null);
  assert.equal(info.config.retentionRecords, null);
  assert.equal(info.config.compact, false);
  assert.equal(info.config.maxRecordBytes, 1000);
  assert.equal(info.config.maxBacklog, null);
  assert.equal(info.config.segmentBytes, 4096);
  assert.equal(typeof info.config.segmentMs, 'number');
  assert.equal(typeof info.config.deleteRetentionMs, 'number');

  const audit = pond.describe('audit').config;
  assert.equal(audit.compact, true);
  assert.equal(audit.retentionBytes, 1 << 20);
  assert.equal(audit.retentionRecords, 100);
  assert.equal(audit.maxBacklog, 10);
  assert.equal(audit.retentionMs, null);

  pond.createTopic('timed', { segmentMs: 1000, deleteRetentionMs: 5 });
  assert.equal(pond.describe('timed').config.segmentMs, 1000);
  assert.equal(pond.describe('timed').config.deleteRetentionMs, 5);

  pond.deleteTopic('orders');
  assert.deepEqual(pond.topics(), ['audit', 'plain', 'timed']);
  pond.createTopic('orders'); // a deleted topic's name is free again, and empty
  assert.equal(pond.describe('orders').partitions[0].endOffset, 0);
  const before = pond.describe('plain').partitions[0].bytes;
  pond.send('plain', 'x'.repeat(100));
  assert.ok(pond.describe('plain').partitions[0].bytes >= before + 100);
  pond.close();
});

test('send returns where the record landed', () => {
  const clock = new ManualClock(1_000);
  const pond = Pond.memory({ clock });
  pond.createTopic('t', { partitions: 4 });
  const md = pond.send('t', 'v', { partition: 2 });
  assert.deepEqual(md, { topic: 't', partition: 2, offset: 0, timestampMs: 1_000 });
  assert.deepEqual(pond.send('t', 'w', { partition: 2, timestampMs: 42 }), {
    topic: 't',
    partition: 2,
    offset: 1,
    timestampMs: 42,
  });
  // A Date is an epoch-ms timestamp too.
  assert.equal(pond.send('t', 'x', { partition: 2, timestampMs: new Date(77) }).timestampMs, 77);
  // The same key always lands in the same partition (Kafka's murmur2).
  const a = pond.send('t', '1', { key: 'customer-7' });
  const b = pond.send('t', '2', { key: Buffer.from('customer-7') });
  const c = pond.send('t', '3', { key: new Uint8Array(Buffer.from('customer-7')) });
  assert.equal(a.partition, b.partition);
  assert.equal(a.partition, c.partition);
  assert.deepEqual([b.offset, c.offset], [a.offset + 1, a.offset + 2]);
  pond.close();
});

test('values, keys and headers round-trip as Buffers from Buffer, Uint8Array and string', () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.send('t', Buffer.from([0, 1, 2, 255]));
  pond.send('t', new Uint8Array([9, 8, 7]));
  pond.send('t', 'héllo wörld ✓');
  pond.send('t', '');
  pond.send('t', null, { key: 'tombstone' });
  // A view into a bigger buffer sends only its own bytes.
  const big = Buffer.from('xxhelloxx');
  pond.send('t', big.subarray(2, 7), { key: new Uint8Array(big.buffer, big.byteOffset + 7, 2) });
  pond.send('t', 'with headers', {
    key: 'k',
    headers: [
      ['trace', 'abc'],
      ['bin', Buffer.from([1, 2, 3])],
      ['trace', new Uint8Array([4])], // names may repeat; order is kept
      ['empty', ''],
      ['ünï', 'code'],
    ],
  });
  pond.send('t', 'object headers', { headers: { a: '1', b: Buffer.from('2') } });
  pond.send('t', 'map headers', { headers: new Map([['m', 'x']]) });

  const rs = pond.read('t', 0);
  assert.equal(rs.length, 9);
  for (const r of rs) {
    assert.equal(r.topic, 't');
    assert.equal(r.partition, 0);
    assert.ok(r.value === null || Buffer.isBuffer(r.value));
    assert.ok(r.key === null || Buffer.isBuffer(r.key));
    assert.ok(Array.isArray(r.headers));
  }
  assert.deepEqual(rs.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...rs[0].value], [0, 1, 2, 255]);
  assert.deepEqual([...rs[1].value], [9, 8, 7]);
  assert.equal(str(rs[2].value), 'héllo wörld ✓');
  assert.equal(rs[3].value.length, 0);
  assert.notEqual(rs[3].value, null);
  assert.equal(rs[4].value, null);
  assert.equal(str(rs[4].key), 'tombstone');
  assert.equal(rs[0].key, null);
  assert.equal(str(rs[5].value), 'hello');
  assert.equal(str(rs[5].key), 'xx');
  assert.deepEqual(
    rs[6].headers.map(([n, v]) => [n, [...v]]),
    [
      ['trace', [...Buffer.from('abc')]],
      ['bin', [1, 2, 3]],
      ['trace', [4]],
      ['empty', []],
      ['ünï', [...Buffer.from('code')]],
    ],
  );
  for (const [, v] of rs[6].headers) assert.ok(Buffer.isBuffer(v));
  assert.deepEqual(rs[7].headers.map(([n, v]) => [n, str(v)]), [
    ['a', '1'],
    ['b', '2'],
  ]);
  assert.deepEqual(rs[8].headers.map(([n, v]) => [n, str(v)]), [['m', 'x']]);
  assert.deepEqual(rs[0].headers, []);
  pond.close();
});

test('sendMany takes plain values and record objects', () => {
  const clock = new ManualClock(500);
  const pond = Pond.memory({ clock });
  pond.createTopic('t', { partitions: 2 });
  const mds = pond.sendMany('t', [
    'a',
    Buffer.from('b'),
    new Uint8Array([99]),
    { value: 'd', key: 'k1', headers: [['h', 'v']] },
    { value: 'e', partition: 1, timestampMs: 7 },
    { key: 'k2' }, // no value: a tombstone
  ]);
  assert.equal(mds.length, 6);
  for (const md of mds) assert.equal(md.topic, 't');
  // Records without key or partition go to one partition per call.
  assert.equal(mds[0].partition, mds[1].partition);
  assert.equal(mds[1].partition, mds[2].partition);
  assert.deepEqual(mds[4], { topic: 't', partition: 1, offset: mds[4].offset, timestampMs: 7 });
  assert.equal(mds[0].timestampMs, 500);

  const byOffset = new Map();
  for (const p of [0, 1]) for (const r of pond.read('t', p)) byOffset.set(`${p}/${r.offset}`, r);
  const get = (md) => byOffset.get(`${md.partition}/${md.offset}`);
  assert.equal(str(get(mds[0]).value), 'a');
  assert.equal(str(get(mds[2]).value), 'c');
  assert.equal(str(get(mds[3]).key), 'k1');
  assert.deepEqual(get(mds[3]).headers.map(([n, v]) => [n, str(v)]), [['h', 'v']]);
  assert.equal(get(mds[4]).timestampMs, 7);
  assert.equal(get(mds[5]).value, null);
  assert.equal(str(get(mds[5]).key), 'k2');
  assert.deepEqual(pond.sendMany('t', []), []);

  // A large batch (it outgrows the packing scratch, bytes and numbers)
  // keeps order and content, headers included.
  const values = Array.from({ length: 5000 }, (_, i) => `value-${i}-${'x'.repeat(i % 50)}`);
  const withHeaders = (i) => (i % 7 === 0 ? [['i', String(i)], ['bin', Buffer.alloc(i % 5, i & 255)]] : undefined);
  const sent = pond.sendMany(
    't',
    values.map((value, i) => ({ value, partition: 0, key: i % 3 ? null : `k${i}`, headers: withHeaders(i) })),
  );
  const first = sent[0].offset;
  assert.deepEqual(
    sent.map((m) => m.offset),
    values.map((_, i) => first + i),
  );
  const back = [];
  for (let offset = first; back.length < values.length; ) {
    const batch = pond.read('t', 0, { offset, maxRecords: 1000 });
    back.push(...batch);
    offset = batch[batch.length - 1].offset + 1;
  }
  assert.deepEqual(
    back.map((r) => str(r.value)),
    values,
  );
  back.forEach((r, i) => {
    assert.equal(str(r.key), i % 3 ? null : `k${i}`);
    const h = withHeaders(i);
    assert.deepEqual(
      r.headers.map(([n, v]) => [n, [...v]]),
      h === undefined ? [] : h.map(([n, v]) => [n, [...Buffer.from(v)]]),
    );
  });
  // One value bigger than the scratch, sent alone and in a batch.
  const huge = Buffer.alloc(300_000, 7);
  const one = pond.send('t', huge, { partition: 0, key: 'huge' });
  const two = pond.sendMany('t', ['small', huge, 'after']);
  assert.ok(pond.read('t', 0, { offset: one.offset, maxRecords: 1 })[0].value.equals(huge));
  const tail = pond.read('t', two[0].partition, { offset: two[0].offset, maxRecords: 3 });
  assert.deepEqual(
    tail.map((r) => r.value.length),
    [5, 300_000, 5],
  );
  assert.ok(tail[1].value.equals(huge));
  pond.close();
});

test('sendMany checks every record before writing any', () => {
  const pond = Pond.memory();
  pond.createTopic('t', { maxRecordBytes: 10 });
  assert.throws(() => pond.sendMany('t', ['ok', 'x'.repeat(11)]), { code: 'RECORD_TOO_LARGE' });
  assert.throws(() => pond.sendMany('t', ['ok', 42]), TypeError);
  assert.equal(pond.describe('t').partitions[0].endOffset, 0);
  pond.close();
});

test('read honours offset, maxRecords and maxBytes', () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.sendMany('t', Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`));
  assert.equal(pond.read('t', 0).length, 20);
  assert.equal(pond.read('t').length, 20); // partition 0 by default
  const mid = pond.read('t', 0, { offset: 5, maxRecords: 3 });
  assert.deepEqual(mid.map((r) => [r.offset, str(r.value)]), [
    [5, 'v05'],
    [6, 'v06'],
    [7, 'v07'],
  ]);
  // maxBytes counts key + value + headers; at least one record comes back.
  assert.equal(pond.read('t', 0, { offset: 0, maxBytes: 7 }).length, 2);
  assert.equal(pond.read('t', 0, { offset: 0, maxBytes: 1 }).length, 1);
  assert.deepEqual(pond.read('t', 0, { offset: 20 }), []); // the end offset is readable: nothing yet
  assert.deepEqual(pond.read('t', 0, { offset: 3, maxRecords: 0 }), []);
  assert.deepEqual(pond.offsets('t', 0), { startOffset: 0, endOffset: 20 });
  // Returned buffers are independent of later reads.
  const first = pond.read('t', 0, { maxRecords: 1 })[0];
  pond.read('t', 0);
  assert.equal(str(first.value), 'v00');
  pond.close();
});

test('offsetForTime and deleteRecords', () => {
  const pond = Pond.memory();
  pond.createTopic('t', { segmentBytes: 128 });
  for (let i = 0; i < 10; i++) pond.send('t', `r${i}`, { timestampMs: 1000 + i * 100 });
  assert.equal(pond.offsetForTime('t', 0, 0), 0);
  assert.equal(pond.offsetForTime('t', 0, 1000), 0);
  assert.equal(pond.offsetForTime('t', 0, 1001), 1);
  assert.equal(pond.offsetForTime('t', 0, 1450), 5);
  assert.equal(pond.offsetForTime('t', 0, new Date(1900)), 9);
  assert.equal(pond.offsetForTime('t', 0, 5000), null);

  pond.deleteRecords('t', 0, 4);
  assert.equal(pond.describe('t').partitions[0].startOffset, 4);
  assert.equal(pond.read('t', 0)[0].offset, 4); // default offset: the start
  assert.throws(() => pond.read('t', 0, { offset: 0 }), { name: 'OffsetOutOfRange', code: 'OFFSET_OUT_OF_RANGE' });
  assert.equal(pond.offsetForTime('t', 0, 0), 4);
  assert.throws(() => pond.deleteRecords('t', 0, 11), { code: 'OFFSET_OUT_OF_RANGE' });
  pond.deleteRecords('t', 0, 2); // below the start: nothing to do
  assert.equal(pond.offsets('t', 0).startOffset, 4);
  pond.close();
});

test('compacted topics keep the newest record per key after maintain', () => {
  const clock = new ManualClock(0);
  const pond = Pond.memory({ clock });
  pond.createTopic('kv', { compact: true, segmentBytes: 128, deleteRetentionMs: 0 });
  for (let i = 0; i < 30; i++) pond.send('kv', `v${i}`, { key: `k${i % 3}` });
  assert.throws(() => pond.send('kv', 'no key'), { code: 'INVALID_ARGUMENT' });
  clock.advance(10);
  pond.maintain();
  const latest = new Map();
  for (const r of pond.read('kv', 0, { maxRecords: 100 })) latest.set(str(r.key), str(r.value));
  assert.deepEqual(Object.fromEntries(latest), { k0: 'v27', k1: 'v28', k2: 'v29' });
  assert.ok(pond.read('kv', 0, { maxRecords: 100 }).length < 30, 'compaction removed old values');
  pond.close();
});

test('flush and close; closing twice is harmless', (t) => {
  const pond = Pond.open(tempDir(t), { durability: 'fsync' });
  pond.createTopic('t');
  pond.send('t', 'x');
  pond.flush();
  assert.equal(pond.closed, false);
  pond.close();
  assert.equal(pond.closed, true);
  pond.close();
});

test('ManualClock moves only when told to', () => {
  const clock = new ManualClock(5);
  assert.equal(clock.nowMs(), 5);
  clock.advance(1500);
  assert.equal(clock.nowMs(), 1505);
  clock.advance(-5);
  assert.equal(clock.nowMs(), 1500);
  clock.set(new Date(10));
  assert.equal(clock.nowMs(), 10);
  clock.set(99);
  assert.equal(clock.nowMs(), 99);
  assert.equal(new ManualClock().nowMs(), 0);
  const pond = Pond.memory({ clock });
  pond.createTopic('t');
  assert.equal(pond.send('t', 'a').timestampMs, 99);
  clock.advance(1);
  assert.equal(pond.send('t', 'b').timestampMs, 100);
  pond.close();
});

test('the system clock stamps records with the time now', () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  const before = Date.now();
  const md = pond.send('t', 'x');
  assert.ok(md.timestampMs >= before - 1 && md.timestampMs <= Date.now() + 1);
  pond.close();
});
