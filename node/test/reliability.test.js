'use strict';
// Failures found by trying logpond as a hostile user would (the
// reliability issue): each test failed before its fix.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pond, Closed, Corruption, LeaseExpired, InvalidName } = require('logpond');
const { tempDir, str } = require('./helpers.js');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('a pending poll and a pending receive end the same way when the pond closes', async () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  const c = pond.consumer({ group: 'g', topics: ['t'] });
  const q = pond.queue('t', { subscription: 's' });
  const poll = c.poll({ timeoutMs: 10_000 });
  const receive = q.receive({ timeoutMs: 10_000 });
  setTimeout(() => pond.close(), 50);
  await Promise.all([
    assert.rejects(poll, (e) => e instanceof Closed && e.code === 'CLOSED'),
    assert.rejects(receive, (e) => e instanceof Closed && e.code === 'CLOSED'),
  ]);
});

test('a failing subscribe handler backs off instead of spinning on one record', async () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.sendMany('t', ['m0', 'm1', 'm2', 'm3']);
  const seen = [];
  const sub = pond.queue('t', { subscription: 's' }).subscribe(async (d) => {
    seen.push(str(d.record.value));
    if (str(d.record.value) === 'm1') throw new Error('poison');
  });
  await sleep(400);
  await sub.stop();
  pond.close();
  assert.deepEqual([...new Set(seen)].sort(), ['m0', 'm1', 'm2', 'm3']);
  assert.equal(seen.filter((v) => v === 'm1').length, 1, 'redelivered only after a 1 s backoff');
});

test('a plain nack goes behind the waiting records', async () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.sendMany('t', ['m0', 'm1', 'm2', 'm3']);
  const q = pond.queue('t', { subscription: 's' });
  const order = [];
  for (let i = 0; i < 6; i++) {
    const [d] = await q.receive();
    if (!d) break;
    order.push(str(d.record.value));
    if (str(d.record.value) === 'm1' && d.deliveryCount === 1) d.nack();
    else d.ack();
  }
  pond.close();
  assert.deepEqual(order, ['m0', 'm1', 'm2', 'm3', 'm1']);
});

test('ackMany with a delivery twice fails as a second ack, settling nothing', async () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.send('t', 'x');
  const q = pond.queue('t', { subscription: 's' });
  const [d] = await q.receive();
  assert.throws(() => q.ackMany([d, d]), LeaseExpired);
  assert.equal(q.backlog(), 1);
  q.ackMany([d]);
  assert.equal(q.backlog(), 0);
  pond.close();
});

test('internal topics cannot be consumed or subscribed', () => {
  const pond = Pond.memory();
  assert.throws(() => pond.consumer({ group: 'g', topics: ['__consumer_offsets'] }), InvalidName);
  assert.throws(() => pond.queue('__consumer_offsets', { subscription: 's' }), InvalidName);
  pond.close();
});

/** A 3-partition topic of one-record batches; one byte flipped in partition 0's first sealed segment. */
function damagedPond(dir) {
  const pond = Pond.open(dir);
  pond.createTopic('t', { partitions: 3, segmentBytes: 1024 });
  for (let i = 0; i < 100; i++) {
    for (let p = 0; p < 3; p++) pond.send('t', `p${p}-${String(i).padStart(3, '0')}${'x'.repeat(40)}`, { partition: p });
  }
  pond.close();
  const seg = path.join(dir, 'topics', 't', '0', '00000000000000000000.log');
  const data = fs.readFileSync(seg);
  data[data.length >> 1] ^= 0x40;
  fs.writeFileSync(seg, data);
}

test('damage stays in its partition; skipDamaged moves a consumer past it', async (t) => {
  const dir = path.join(tempDir(t), 'pond');
  damagedPond(dir);
  const pond = Pond.open(dir);
  const c = pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest' });
  const got = [];
  const skipped = [];
  for (let i = 0; i < 100; i++) {
    let batch;
    try {
      batch = await c.poll({ maxRecords: 50 });
    } catch (e) {
      assert.ok(e instanceof Corruption, String(e));
      assert.match(e.message, /partition 0/);
      skipped.push(...c.skipDamaged());
      continue;
    }
    if (batch.length === 0) break;
    got.push(...batch);
  }
  assert.equal(skipped.length, 1);
  const { topic, partition, fromOffset, toOffset } = skipped[0];
  assert.deepEqual([topic, partition], ['t', 0]);
  assert.ok(toOffset > fromOffset);
  assert.equal(got.filter((r) => r.partition !== 0).length, 200);
  for (const r of got) {
    assert.equal(str(r.value), `p${r.partition}-${String(r.offset).padStart(3, '0')}${'x'.repeat(40)}`);
  }
  pond.close();
});

test('skipDamaged moves a queue past damage; every other record is delivered', async (t) => {
  const dir = path.join(tempDir(t), 'pond');
  damagedPond(dir);
  const pond = Pond.open(dir);
  const q = pond.queue('t', { subscription: 's', maxInFlight: 1000 });
  let got = 0;
  const skipped = [];
  for (let i = 0; i < 100; i++) {
    let batch;
    try {
      batch = await q.receive({ maxMessages: 50 });
    } catch (e) {
      assert.ok(e instanceof Corruption, String(e));
      skipped.push(...q.skipDamaged());
      continue;
    }
    if (batch.length === 0) break;
    q.ackMany(batch);
    got += batch.length;
  }
  assert.equal(skipped.length, 1);
  assert.equal(got, 300 - (skipped[0].toOffset - skipped[0].fromOffset));
  assert.equal(q.backlog(), 0);
  pond.close();
});

test('new files are private, or group-shared with groupAccess', { skip: process.platform === 'win32' }, (t) => {
  const dir = tempDir(t);
  for (const [groupAccess, dirMode, fileMode] of [
    [false, 0o700, 0o600],
    [true, 0o770, 0o660],
  ]) {
    const root = path.join(dir, `pond-${groupAccess}`);
    const pond = Pond.open(root, { groupAccess });
    pond.createTopic('t');
    pond.send('t', 'x');
    pond.close();
    const modes = (p) => {
      const st = fs.statSync(p);
      assert.equal(st.mode & 0o777, st.isDirectory() ? dirMode : fileMode, p);
      if (st.isDirectory()) for (const f of fs.readdirSync(p)) modes(path.join(p, f));
    };
    modes(root);
  }
});

test('send and sendMany with timeoutMs wait out Backpressure off the event loop', async () => {
  const pond = Pond.memory();
  pond.createTopic('t', { maxBacklog: 2 });
  const q = pond.queue('t', { subscription: 's' });
  pond.sendMany('t', ['a', 'b']);
  assert.throws(() => pond.send('t', 'c'), (e) => e.code === 'BACKPRESSURE');
  const start = performance.now();
  await assert.rejects(pond.send('t', 'c', { timeoutMs: 120 }), (e) => e.code === 'BACKPRESSURE');
  assert.ok(performance.now() - start >= 100);
  const waiting = pond.send('t', 'c', { key: 'k', timeoutMs: 10_000 });
  assert.ok(waiting instanceof Promise);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await sleep(60);
  const [d] = await q.receive();
  d.ack();
  const md = await waiting;
  clearInterval(timer);
  assert.deepEqual([md.topic, md.partition, md.offset], ['t', 0, 2]);
  assert.ok(ticks >= 5, 'the event loop ran while the send waited');
  const [d2] = await q.receive();
  const many = pond.sendMany('t', ['x'], { timeoutMs: 10_000 });
  setTimeout(() => d2.ack(), 30);
  assert.deepEqual((await many).map((m) => m.offset), [3]);
  assert.throws(() => pond.sendMany('t', ['y'], { timeout: 5 }), (e) => e instanceof TypeError || e.code === 'INVALID_ARGUMENT');
  pond.close();
});
