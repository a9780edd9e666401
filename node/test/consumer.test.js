'use strict';
// Consumer groups end to end: assignment and rebalances, positions,
// commits, seeks, lag, session timeouts driven by a ManualClock, waits off
// the event loop, `for await`, and misuse.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  Pond,
  ManualClock,
  Consumer,
  Closed,
  CommitFailed,
  InvalidArgument,
  InvalidName,
  OffsetOutOfRange,
} = require('logpond');
const { tempDir, str } = require('./helpers.js');

/** A memory pond with a manual clock and a topic of `partitions` partitions. */
function setup(t, partitions = 1) {
  const clock = new ManualClock(1_000_000);
  const pond = Pond.memory({ clock });
  pond.createTopic('orders', { partitions });
  t.after(() => pond.close());
  return { clock, pond };
}

const values = (records) => records.map((r) => str(r.value));
const tps = (list) => list.map((a) => `${a.topic}/${a.partition}`);

test('a consumer reads from the earliest offset and keeps its position', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('orders', ['a', 'b', 'c']);
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' });
  assert.ok(c instanceof Consumer);
  assert.equal(c.group, 'g');
  assert.deepEqual(c.topics, ['orders']);
  const first = await c.poll({ maxRecords: 2 });
  assert.deepEqual(values(first), ['a', 'b']);
  assert.deepEqual(
    first.map((r) => [r.topic, r.partition, r.offset]),
    [
      ['orders', 0, 0],
      ['orders', 0, 1],
    ],
  );
  assert.equal(c.position('orders', 0), 2);
  assert.deepEqual(c.lag(), [{ topic: 'orders', partition: 0, lag: 1 }]);
  assert.deepEqual(values(await c.poll()), ['c']);
  assert.deepEqual(await c.poll(), []);
  c.close();
  assert.equal(c.closed, true);
});

test("'latest' starts at the end; 'none' refuses to guess", async (t) => {
  const { pond } = setup(t);
  pond.send('orders', 'old');
  const latest = pond.consumer({ group: 'new', topics: 'orders' });
  assert.deepEqual(await latest.poll(), []);
  pond.send('orders', 'fresh');
  assert.deepEqual(values(await latest.poll()), ['fresh']);
  const none = pond.consumer({ group: 'strict', topics: ['orders'], autoOffsetReset: 'none' });
  await assert.rejects(none.poll(), OffsetOutOfRange);
});

test('records keep keys, headers and timestamps, across topics', async (t) => {
  const { pond, clock } = setup(t);
  pond.createTopic('payments', { partitions: 2 });
  pond.send('orders', 'v', { key: 'k', headers: [['h', 'x'], ['h', 'y']], timestampMs: 42 });
  pond.send('payments', 'p', { partition: 1 });
  const c = pond.consumer({ group: 'g', topics: ['orders', 'payments'], autoOffsetReset: 'earliest' });
  const got = await c.poll();
  const byTopic = Object.fromEntries(got.map((r) => [r.topic, r]));
  assert.equal(str(byTopic.orders.key), 'k');
  assert.deepEqual(
    byTopic.orders.headers.map(([n, v]) => [n, str(v)]),
    [
      ['h', 'x'],
      ['h', 'y'],
    ],
  );
  assert.equal(byTopic.orders.timestampMs, 42);
  assert.equal(byTopic.payments.partition, 1);
  assert.equal(byTopic.payments.timestampMs, clock.nowMs());
  assert.ok(Buffer.isBuffer(byTopic.payments.value));
});

test('members split partitions and rebalance on join and close (range, round-robin, sticky)', async (t) => {
  const { pond } = setup(t, 4);
  const a = pond.consumer({ group: 'r', topics: ['orders'], assignor: 'range' });
  assert.deepEqual(tps(a.assignment()), ['orders/0', 'orders/1', 'orders/2', 'orders/3']);
  const gen = a.generation;
  const b = pond.consumer({ group: 'r', topics: ['orders'], assignor: 'range' });
  assert.ok(a.generation > gen);
  assert.deepEqual(tps(a.assignment()), ['orders/0', 'orders/1']);
  assert.deepEqual(tps(b.assignment()), ['orders/2', 'orders/3']);
  assert.notEqual(a.memberId, b.memberId);
  b.close();
  assert.equal(a.assignment().length, 4);

  const x = pond.consumer({ group: 'rr', topics: ['orders'], assignor: 'round-robin' });
  const y = pond.consumer({ group: 'rr', topics: ['orders'], assignor: 'round-robin' });
  assert.deepEqual(tps(x.assignment()), ['orders/0', 'orders/2']);
  assert.deepEqual(tps(y.assignment()), ['orders/1', 'orders/3']);

  const s1 = pond.consumer({ group: 'sticky', topics: ['orders'] });
  const s2 = pond.consumer({ group: 'sticky', topics: ['orders'] });
  const before = new Set(tps(s1.assignment()));
  const s3 = pond.consumer({ group: 'sticky', topics: ['orders'] });
  // Sticky: s1 only gives up partitions, it never trades one for another.
  for (const tp of tps(s1.assignment())) assert.ok(before.has(tp));
  const all = [...tps(s1.assignment()), ...tps(s2.assignment()), ...tps(s3.assignment())].sort();
  assert.deepEqual(all, ['orders/0', 'orders/1', 'orders/2', 'orders/3']);
});

test('every group sees every record; a group resumes from its commits', async (t) => {
  const dir = tempDir(t);
  let pond = Pond.open(dir);
  pond.createTopic('orders');
  pond.sendMany('orders', ['a', 'b', 'c', 'd']);
  const billing = pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false });
  const audit = pond.consumer({ group: 'audit', topics: ['orders'], autoOffsetReset: 'earliest' });
  assert.deepEqual(values(await billing.poll({ maxRecords: 2 })), ['a', 'b']);
  assert.deepEqual(values(await audit.poll()), ['a', 'b', 'c', 'd']);
  billing.commit();
  assert.equal(billing.committed('orders', 0), 2);
  assert.equal(billing.committed('orders', 0), 2);
  billing.commit([{ topic: 'orders', partition: 0, offset: 3 }]);
  assert.equal(billing.committed('orders', 0), 3);
  pond.close(); // the consumers are not closed first

  pond = Pond.open(dir);
  t.after(() => pond.close());
  const again = pond.consumer({ group: 'billing', topics: ['orders'] });
  assert.equal(again.committed('orders', 0), 3);
  assert.deepEqual(values(await again.poll()), ['d']);
  // audit auto-committed nothing: it never polled again nor closed.
  assert.equal(pond.consumer({ group: 'audit', topics: ['orders'] }).committed('orders', 0), null);
});

test('auto-commit: on poll after the interval (ManualClock) and on close', async (t) => {
  const { pond, clock } = setup(t);
  pond.sendMany('orders', ['a', 'b', 'c']);
  const c = pond.consumer({
    group: 'g',
    topics: ['orders'],
    autoOffsetReset: 'earliest',
    autoCommitIntervalMs: 1000,
  });
  assert.deepEqual(values(await c.poll({ maxRecords: 1 })), ['a']);
  assert.equal(c.committed('orders', 0), null);
  clock.advance(1500);
  assert.deepEqual(values(await c.poll({ maxRecords: 1 })), ['b']);
  assert.equal(c.committed('orders', 0), 1); // what earlier polls returned
  c.close();
  const next = pond.consumer({ group: 'g', topics: ['orders'] });
  assert.equal(next.committed('orders', 0), 2);
  assert.deepEqual(values(await next.poll()), ['c']);
});

test('a member past its session timeout is fenced: its commit fails, it rejoins on poll', async (t) => {
  const { pond, clock } = setup(t, 2);
  pond.sendMany('orders', [
    { value: 'a', partition: 0 },
    { value: 'b', partition: 1 },
  ]);
  const opts = { group: 'g', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false, sessionTimeoutMs: 5000 };
  const slow = pond.consumer(opts);
  const fast = pond.consumer(opts);
  assert.equal(slow.assignment().length, 1);
  await slow.poll();
  const oldId = slow.memberId;
  clock.advance(6000);
  await fast.poll(); // finds slow gone: takes every partition
  assert.equal(fast.assignment().length, 2);
  assert.throws(() => slow.commit(), CommitFailed);
  assert.throws(() => slow.commit(), (e) => e.code === 'COMMIT_FAILED');
  await slow.poll(); // rejoins as a new member
  assert.notEqual(slow.memberId, oldId);
  assert.equal(slow.assignment().length + fast.assignment().length, 2);
});

test('seek, seekToBeginning, seekToEnd and seekToTime move positions', async (t) => {
  const { pond } = setup(t);
  for (let i = 0; i < 5; i++) pond.send('orders', `v${i}`, { timestampMs: 100 * i });
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' });
  await c.poll();
  c.seek('orders', 0, 3);
  assert.deepEqual(values(await c.poll()), ['v3', 'v4']);
  c.seekToBeginning();
  assert.equal(c.position('orders', 0), 0);
  c.seekToTime(250);
  assert.deepEqual(values(await c.poll()), ['v3', 'v4']);
  c.seekToTime(new Date(0));
  assert.equal(c.position('orders'), 0);
  c.seekToEnd();
  assert.deepEqual(await c.poll(), []);
  assert.deepEqual(c.lag(), [{ topic: 'orders', partition: 0, lag: 0 }]);
});

test('the event loop keeps turning while poll waits; a send from a timer ends the wait early', async (t) => {
  const { pond } = setup(t);
  const c = pond.consumer({ group: 'g', topics: ['orders'] });
  await c.poll(); // joined, positioned at the (empty) end
  let ticks = 0;
  const interval = setInterval(() => ticks++, 20);
  const timer = setTimeout(() => pond.send('orders', 'wake up'), 300);
  const start = performance.now();
  const got = await c.poll({ timeoutMs: 2000 });
  const waited = performance.now() - start;
  clearInterval(interval);
  clearTimeout(timer);
  assert.deepEqual(values(got), ['wake up']);
  assert.ok(waited >= 250 && waited < 1500, `waited ${waited} ms`);
  assert.ok(ticks >= 5, `the interval fired ${ticks} times while poll waited`);
});

test('a poll that times out resolves empty, and the loop turned meanwhile', async (t) => {
  const { pond } = setup(t);
  const c = pond.consumer({ group: 'g', topics: ['orders'] });
  let ticks = 0;
  const interval = setInterval(() => ticks++, 20);
  const start = performance.now();
  assert.deepEqual(await c.poll({ timeoutMs: 250 }), []);
  clearInterval(interval);
  const waited = performance.now() - start;
  assert.ok(waited >= 240, `waited ${waited} ms`);
  assert.ok(ticks >= 5, `ticks ${ticks}`);
});

test('more waiting consumers than thread-pool threads are all woken', async (t) => {
  const { pond } = setup(t, 8);
  // 8 groups: each sees every record, each consumer waits on the pool.
  const consumers = Array.from({ length: 8 }, (_, i) => pond.consumer({ group: `g${i}`, topics: ['orders'] }));
  await Promise.all(consumers.map((c) => c.poll()));
  const waits = consumers.map((c) => c.poll({ timeoutMs: 5000 }));
  setTimeout(() => pond.send('orders', 'all', { partition: 3 }), 50);
  const start = performance.now();
  const got = await Promise.all(waits);
  assert.ok(performance.now() - start < 2000);
  for (const records of got) assert.deepEqual(values(records), ['all']);
});

test('for await hands out records one by one and ends on close', async (t) => {
  const { pond } = setup(t, 3);
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' });
  pond.sendMany('orders', Array.from({ length: 30 }, (_, i) => ({ value: `r${i}`, partition: i % 3 })));
  const seen = [];
  setTimeout(() => pond.send('orders', 'late', { partition: 1 }), 50);
  for await (const r of c) {
    seen.push(str(r.value));
    if (seen.length === 31) setTimeout(() => c.close(), 20);
  }
  assert.equal(seen.length, 31);
  assert.deepEqual(new Set(seen).size, 31);
  assert.ok(seen.includes('late'));
  assert.equal(c.closed, true);
  await assert.rejects(c.poll(), Closed);
});

test('for await ends when the pond closes', async (t) => {
  const pond = Pond.memory();
  pond.createTopic('orders');
  const c = pond.consumer({ group: 'g', topics: ['orders'] });
  setTimeout(() => pond.close(), 100);
  const start = performance.now();
  for await (const r of c) assert.fail(`unexpected ${r}`);
  assert.ok(performance.now() - start < 1000);
  assert.equal(c.closed, true);
  await assert.rejects(c.poll(), Closed);
});

test('a pending poll rejects with Closed when its consumer closes', async (t) => {
  const { pond } = setup(t);
  const c = pond.consumer({ group: 'g', topics: ['orders'] });
  const pending = c.poll({ timeoutMs: 5000 });
  setTimeout(() => c.close(), 50);
  await assert.rejects(pending, (e) => e instanceof Closed && /consumer is closed/.test(e.message));
});

test('leaving a loop: positions and commits count exactly what it yielded', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('orders', Array.from({ length: 10 }, (_, i) => `r${i}`));
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' });
  const seen = [];
  for await (const r of c) {
    seen.push(str(r.value));
    if (seen.length === 3) break;
  }
  assert.equal(c.closed, false);
  assert.equal(c.position('orders', 0), 3); // records fetched but not yielded are not consumed
  assert.deepEqual(c.lag(), [{ topic: 'orders', partition: 0, lag: 7 }]);
  c.commit();
  assert.equal(c.committed('orders', 0), 3);
  // The next poll goes on where the loop stopped.
  assert.deepEqual(values(await c.poll({ maxRecords: 2 })), ['r3', 'r4']);
  for await (const r of c) {
    seen.push(str(r.value));
    break;
  }
  assert.deepEqual(seen, ['r0', 'r1', 'r2', 'r5']);
  c.close(); // auto-commit: r0..r5 yielded
  const next = pond.consumer({ group: 'g', topics: ['orders'] });
  assert.equal(next.committed('orders', 0), 6);
  assert.deepEqual(values(await next.poll()), ['r6', 'r7', 'r8', 'r9']);
});

test('commit() inside a loop commits what the loop has seen, and the loop goes on', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('orders', Array.from({ length: 20 }, (_, i) => `r${i}`));
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false });
  const seen = [];
  for await (const r of c) {
    seen.push(r.offset);
    c.commit();
    assert.equal(c.committed('orders', 0), r.offset + 1);
    if (r.offset === 19) break;
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => i),
  );
  // A seek moves where the next read starts.
  c.seek('orders', 0, 5);
  assert.deepEqual(values(await c.poll({ maxRecords: 1 })), ['r5']);
});

test('a rebalance while a loop runs neither skips nor repeats a record', async (t) => {
  const { pond } = setup(t, 4);
  const all = Array.from({ length: 200 }, (_, i) => ({ value: `r${i}`, partition: i % 4 }));
  pond.sendMany('orders', all);
  const options = { group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' };
  const first = pond.consumer(options); // autoCommit on (the default)
  const seen = [];
  for await (const r of first) {
    seen.push(str(r.value));
    if (seen.length === 7) break;
  }
  // A second member joins: the rebalance hands partitions over, committing
  // the first member's positions (what its loop yielded) for them.
  const second = pond.consumer(options);
  assert.equal(second.assignment().length, 2);
  assert.equal(first.assignment().length, 2);
  const drained = (c) => c.lag().every((l) => l.lag === 0);
  if (!drained(first)) {
    for await (const r of first) {
      seen.push(str(r.value));
      if (drained(first)) break;
    }
  }
  for await (const r of second) {
    seen.push(str(r.value));
    if (drained(second)) break;
  }
  assert.equal(seen.length, all.length);
  assert.deepEqual(new Set(seen), new Set(all.map((r) => r.value)));
  assert.deepEqual(await first.poll(), []);
  assert.deepEqual(await second.poll(), []);
});

test('a for await loop over a backlog lets the event loop turn', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('orders', Array.from({ length: 5000 }, (_, i) => `r${i}`));
  const c = pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'earliest' });
  let turns = 0;
  let stop = false;
  const spin = () => {
    turns++;
    if (!stop) setImmediate(spin);
  };
  setImmediate(spin);
  let n = 0;
  for await (const r of c) {
    if (++n === 5000) break;
  }
  stop = true;
  assert.ok(turns >= 5, `the event loop turned ${turns} times`);
});

test('misuse is refused with clear errors, never a crash', async (t) => {
  const { pond } = setup(t, 2);
  assert.throws(() => pond.consumer(), TypeError);
  assert.throws(() => pond.consumer({ topics: ['orders'] }), TypeError);
  assert.throws(() => pond.consumer({ group: 'g', topics: 5 }), TypeError);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], autoCommit: 'yes' }), TypeError);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], groupId: 'x' }), /unknown option 'groupId'/);
  assert.throws(() => pond.consumer({ group: '', topics: ['orders'] }), InvalidArgument);
  assert.throws(() => pond.consumer({ group: 'g', topics: [] }), InvalidArgument);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['bad name'] }), InvalidName);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], autoOffsetReset: 'smallest' }), InvalidArgument);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], assignor: 'bogus' }), InvalidArgument);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], sessionTimeoutMs: 0 }), InvalidArgument);
  assert.throws(() => pond.consumer({ group: 'g', topics: ['orders'], sessionTimeoutMs: 1.5 }), InvalidArgument);
  assert.throws(() => new Consumer(), TypeError);

  const c = pond.consumer({ group: 'g', topics: ['orders', 'not-yet'] });
  await assert.rejects(c.poll({ maxRecords: -1 }), InvalidArgument);
  await assert.rejects(c.poll({ maxRecords: 'many' }), TypeError);
  await assert.rejects(c.poll({ timeoutMs: -5 }), InvalidArgument);
  await assert.rejects(c.poll({ timeoutMs: NaN }), InvalidArgument);
  await assert.rejects(c.poll({ wait: 5 }), TypeError);
  await assert.rejects(c.poll('soon'), TypeError);
  assert.throws(() => c.commit('all'), TypeError);
  assert.throws(() => c.commit([{ topic: 'orders', partition: 0 }]), TypeError);
  assert.throws(() => c.commit([{ topic: 'orders', partition: 0, offset: -1 }]), InvalidArgument);
  assert.throws(() => c.commit([{ topic: 'orders', partition: 7, offset: 1 }]), CommitFailed);
  assert.throws(() => c.seek('orders', 0, 2 ** 60), InvalidArgument);
  assert.throws(() => c.seek('orders', 9, 0), LogpondErrorLike);
  assert.throws(() => c.position(3), TypeError);
  assert.throws(() => c.seekToTime('yesterday'), TypeError);

  // A topic created later joins the assignment on the next poll.
  pond.createTopic('not-yet');
  await c.poll();
  assert.ok(tps(c.assignment()).includes('not-yet/0'));

  c.close();
  c.close(); // twice is harmless
  for (const call of [
    () => c.commit(),
    () => c.committed('orders', 0),
    () => c.position('orders', 0),
    () => c.seekToEnd(),
    () => c.assignment(),
    () => c.lag(),
    () => c.memberId,
  ]) {
    assert.throws(call, (e) => e instanceof Closed && /consumer is closed/.test(e.message));
  }
  await assert.rejects(c.poll(), Closed);
  assert.match(require('node:util').inspect(c), /Consumer \{ group: "g".*closed/);

  const other = pond.consumer({ group: 'h', topics: ['orders'] });
  pond.close();
  assert.equal(other.closed, true);
  await assert.rejects(other.poll(), (e) => e instanceof Closed && /pond is closed/.test(e.message));
  assert.throws(() => other.commit(), Closed);
  other.close(); // after the pond: harmless
});

/** Any logpond error (not a TypeError). */
function LogpondErrorLike(e) {
  return e instanceof require('logpond').LogpondError;
}

test('Symbol.dispose and Symbol.asyncDispose close a consumer (for `using`)', async (t) => {
  const { pond } = setup(t);
  const c = pond.consumer({ group: 'g', topics: ['orders'] });
  c[Symbol.dispose]();
  assert.equal(c.closed, true);
  const d = pond.consumer({ group: 'g', topics: ['orders'] });
  await d[Symbol.asyncDispose]();
  assert.equal(d.closed, true);
});
