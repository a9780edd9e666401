'use strict';
// Queues end to end: competing consumers, fan-out, leases and redelivery
// driven by a ManualClock, nacks, dead letters and parking, prefetch,
// backpressure, waits off the event loop, `for await`, `subscribe`, misuse.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  Pond,
  ManualClock,
  Queue,
  Delivery,
  Subscription,
  Backpressure,
  Closed,
  InvalidArgument,
  LeaseExpired,
  TopicNotFound,
} = require('logpond');
const { tempDir, str } = require('./helpers.js');

function setup(t, partitions = 1, topicOptions = {}) {
  const clock = new ManualClock(1_000_000);
  const pond = Pond.memory({ clock });
  pond.createTopic('jobs', { partitions, ...topicOptions });
  t.after(() => pond.close());
  return { clock, pond };
}

const values = (ds) => ds.map((d) => str(d.record.value));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('competing consumers share a subscription; subscriptions fan out', async (t) => {
  const { pond } = setup(t, 2);
  pond.sendMany('jobs', ['a', 'b', 'c', 'd'].map((value, i) => ({ value, partition: i % 2 })));
  const w1 = pond.queue('jobs', { subscription: 'workers' });
  const w2 = pond.queue('jobs', { subscription: 'workers' });
  const audit = pond.queue('jobs', 'audit'); // a name alone: the default settings
  assert.ok(w1 instanceof Queue);
  assert.equal(w1.topic, 'jobs');
  assert.equal(w1.subscription, 'workers');
  const first = await w1.receive({ maxMessages: 2 });
  const second = await w2.receive({ maxMessages: 10 });
  assert.ok(first.every((d) => d instanceof Delivery && d.deliveryCount === 1 && d.queue === w1));
  assert.deepEqual([...values(first), ...values(second)].sort(), ['a', 'b', 'c', 'd']);
  assert.equal(w1.inFlight(), 4);
  assert.equal(w1.backlog(), 4);
  w1.ackMany(first);
  assert.ok(first.every((d) => d.done));
  for (const d of second) d.ack();
  assert.equal(w2.backlog(), 0);
  assert.equal(w2.inFlight(), 0);
  assert.deepEqual(values(await audit.receive({ maxMessages: 10 })).sort(), ['a', 'b', 'c', 'd']);
  assert.deepEqual(pond.subscriptions('jobs'), ['audit', 'workers']);
  pond.deleteSubscription('jobs', 'audit');
  assert.deepEqual(pond.subscriptions('jobs'), ['workers']);
  assert.throws(() => pond.deleteSubscription('jobs', 'audit'), TopicNotFound);
});

test('an expired lease is delivered again; the late ack of the old delivery fails', async (t) => {
  const { pond, clock } = setup(t);
  pond.send('jobs', 'slow');
  const q = pond.queue('jobs', { subscription: 'w', ackTimeoutMs: 5000 });
  const [d1] = await q.receive();
  assert.deepEqual(await q.receive(), []);
  clock.advance(5001);
  const [d2] = await q.receive();
  assert.equal(str(d2.record.value), 'slow');
  assert.equal(d2.deliveryCount, 2);
  assert.throws(() => d1.ack(), LeaseExpired);
  assert.equal(d1.done, false);
  d2.ack();
  assert.equal(q.backlog(), 0);
});

test('a late ack still settles a record nobody took since', async (t) => {
  const { pond, clock } = setup(t);
  pond.send('jobs', 'x');
  const q = pond.queue('jobs', { subscription: 'w', ackTimeoutMs: 1000 });
  const [d] = await q.receive();
  clock.advance(2000);
  d.ack();
  assert.equal(q.backlog(), 0);
  assert.deepEqual(await q.receive(), []);
});

test('nack returns a delivery at once or after its delay', async (t) => {
  const { pond, clock } = setup(t);
  pond.sendMany('jobs', ['a', 'b']);
  const q = pond.queue('jobs', { subscription: 'w' });
  const [a, b] = await q.receive({ maxMessages: 2 });
  a.nack();
  b.nack({ delayMs: 10_000, reason: 'later' });
  assert.ok(a.done && b.done);
  const again = await q.receive({ maxMessages: 5 });
  assert.deepEqual(values(again), ['a']);
  assert.equal(again[0].deliveryCount, 2);
  clock.advance(10_000);
  const [b2] = await q.receive({ maxMessages: 5 });
  assert.equal(str(b2.record.value), 'b');
  assert.equal(b2.deliveryCount, 2);
});

test('past maxDeliveries a record goes to the dead-letter topic with its headers', async (t) => {
  const { pond } = setup(t);
  pond.send('jobs', 'poison', { key: 'k', headers: [['trace', 't1']] });
  const q = pond.queue('jobs', { subscription: 'w', maxDeliveries: 2, deadLetterTopic: 'jobs.dlq' });
  for (let i = 1; i <= 2; i++) {
    const [d] = await q.receive();
    assert.equal(d.deliveryCount, i);
    d.nack({ reason: `failure ${i}` });
  }
  assert.deepEqual(await q.receive(), []);
  assert.equal(q.backlog(), 0);
  const [dead] = pond.read('jobs.dlq', 0);
  assert.equal(str(dead.value), 'poison');
  assert.equal(str(dead.key), 'k');
  const headers = Object.fromEntries(dead.headers.map(([n, v]) => [n, str(v)]));
  assert.equal(headers.trace, 't1');
  assert.equal(headers['logpond.dlq.topic'], 'jobs');
  assert.equal(headers['logpond.dlq.subscription'], 'w');
  assert.equal(headers['logpond.dlq.delivery_count'], '2');
  assert.equal(headers['logpond.dlq.reason'], 'failure 2');
});

test('without a dead-letter topic such a record is parked', async (t) => {
  const { pond, clock } = setup(t);
  pond.send('jobs', 'poison');
  const q = pond.queue('jobs', { subscription: 'w', maxDeliveries: 1, ackTimeoutMs: 1000 });
  await q.receive();
  clock.advance(1000);
  assert.deepEqual(await q.receive(), []);
  assert.deepEqual(q.parked(), [{ partition: 0, offset: 0, deliveryCount: 1, reason: 'ack timeout expired' }]);
  assert.equal(q.backlog(), 1);
});

test('maxInFlight caps unacknowledged deliveries; an ack frees room', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('jobs', ['a', 'b', 'c', 'd']);
  const q = pond.queue('jobs', { subscription: 'w', maxInFlight: 2 });
  const got = await q.receive({ maxMessages: 10 });
  assert.equal(got.length, 2);
  assert.deepEqual(await q.receive({ maxMessages: 10 }), []);
  got[0].ack();
  assert.equal((await q.receive({ maxMessages: 10 })).length, 1);
});

test('startAtEnd skips the records already there', async (t) => {
  const { pond } = setup(t);
  pond.send('jobs', 'old');
  const q = pond.queue('jobs', { subscription: 'w', startAtEnd: true });
  assert.deepEqual(await q.receive(), []);
  pond.send('jobs', 'new');
  assert.deepEqual(values(await q.receive()), ['new']);
});

test('Backpressure: a topic maxBacklog bounds each subscription; nothing is written past it', async (t) => {
  const { pond } = setup(t, 1, { maxBacklog: 3 });
  pond.sendMany('jobs', ['1', '2', '3', '4', '5']); // no subscription yet: not bounded
  pond.deleteRecords('jobs', 0, 5);
  const q = pond.queue('jobs', { subscription: 'w' });
  pond.sendMany('jobs', ['a', 'b']);
  pond.send('jobs', 'c');
  assert.throws(
    () => pond.send('jobs', 'd'),
    (e) => e instanceof Backpressure && e.code === 'BACKPRESSURE' && /max_backlog 3/.test(e.message),
  );
  const end = pond.offsets('jobs', 0).endOffset;
  assert.throws(() => pond.sendMany('jobs', ['x']), Backpressure);
  assert.equal(pond.offsets('jobs', 0).endOffset, end);
  const [d] = await q.receive();
  assert.throws(() => pond.send('jobs', 'd'), Backpressure); // in flight still counts
  d.ack();
  pond.send('jobs', 'd');
  assert.equal(q.backlog(), 3);
});

test('retainUntilAcked frees segments once every subscription settled them', async (t) => {
  const { pond } = setup(t, 1, { retainUntilAcked: true, segmentBytes: 200 });
  assert.equal(pond.describe('jobs').config.retainUntilAcked, true);
  const q = pond.queue('jobs', { subscription: 'w', maxInFlight: 1000 });
  for (let i = 0; i < 50; i++) pond.send('jobs', `record number ${i}`);
  assert.equal(pond.offsets('jobs', 0).startOffset, 0);
  q.ackMany(await q.receive({ maxMessages: 50 }));
  assert.ok(pond.offsets('jobs', 0).startOffset > 0);
});

test('queue state survives a reopen; leases held at close are released', async (t) => {
  const dir = tempDir(t);
  let pond = Pond.open(dir);
  pond.createTopic('jobs');
  pond.sendMany('jobs', ['a', 'b', 'c']);
  const q = pond.queue('jobs', { subscription: 'w' });
  const [a, b] = await q.receive({ maxMessages: 2 });
  a.ack();
  void b; // in flight when the pond closes
  pond.close();
  pond = Pond.open(dir);
  t.after(() => pond.close());
  const again = pond.queue('jobs', { subscription: 'w' });
  assert.equal(again.backlog(), 2);
  const got = await again.receive({ maxMessages: 5 });
  assert.deepEqual(
    got.map((d) => [str(d.record.value), d.deliveryCount]),
    [
      ['b', 2],
      ['c', 1],
    ],
  );
});

test('receive waits off the event loop; a send from a timer ends the wait early', async (t) => {
  const { pond } = setup(t);
  const q = pond.queue('jobs', { subscription: 'w' });
  let ticks = 0;
  const interval = setInterval(() => ticks++, 20);
  setTimeout(() => pond.send('jobs', 'wake up'), 300);
  const start = performance.now();
  const got = await q.receive({ timeoutMs: 2000 });
  const waited = performance.now() - start;
  clearInterval(interval);
  assert.deepEqual(values(got), ['wake up']);
  assert.ok(waited >= 250 && waited < 1500, `waited ${waited} ms`);
  assert.ok(ticks >= 5, `the interval fired ${ticks} times while receive waited`);
});

test('a waiting receive is woken by an ack freeing room and by a nack delay coming due', async () => {
  const pond = Pond.memory(); // the system clock: the delay passes in real time
  try {
    pond.createTopic('jobs');
    pond.sendMany('jobs', ['a', 'b']);
    const q = pond.queue('jobs', { subscription: 'w', maxInFlight: 1 });
    const [a] = await q.receive();
    setTimeout(() => a.ack(), 100);
    let start = performance.now();
    assert.deepEqual(values(await q.receive({ timeoutMs: 3000 })), ['b']);
    assert.ok(performance.now() - start < 1500);
    pond.createTopic('once');
    pond.send('once', 'x');
    const q2 = pond.queue('once', { subscription: 'delays' });
    const [first] = await q2.receive();
    first.nack({ delayMs: 200 });
    start = performance.now();
    const [again] = await q2.receive({ timeoutMs: 3000 });
    const waited = performance.now() - start;
    assert.equal(again.deliveryCount, 2);
    assert.ok(waited >= 150 && waited < 1500, `waited ${waited} ms`);
  } finally {
    pond.close();
  }
});

test('for await hands out deliveries and ends on close, and on pond close', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('jobs', ['a', 'b', 'c']);
  const q = pond.queue('jobs', { subscription: 'w' });
  const seen = [];
  setTimeout(() => pond.send('jobs', 'late'), 50);
  for await (const d of q) {
    seen.push(str(d.record.value));
    d.ack();
    if (seen.length === 4) setTimeout(() => q.close(), 30);
  }
  assert.deepEqual(seen, ['a', 'b', 'c', 'late']);
  assert.equal(q.closed, true);
  await assert.rejects(q.receive(), Closed);

  const other = Pond.memory();
  other.createTopic('jobs');
  const q2 = other.queue('jobs', { subscription: 'w' });
  setTimeout(() => other.close(), 80);
  for await (const d of q2) assert.fail(`unexpected ${d}`);
  assert.equal(q2.closed, true);
});

test('a pending receive rejects with Closed when its queue consumer closes', async (t) => {
  const { pond } = setup(t);
  const q = pond.queue('jobs', { subscription: 'w' });
  const pending = q.receive({ timeoutMs: 5000 });
  setTimeout(() => q.close(), 50);
  const start = performance.now();
  await assert.rejects(pending, (e) => e instanceof Closed && /queue consumer is closed/.test(e.message));
  assert.ok(performance.now() - start < 1000);
});

test('subscribe with concurrency 3 processes every record exactly once', async (t) => {
  const { pond } = setup(t, 3);
  const N = 90;
  const q = pond.queue('jobs', { subscription: 'w' });
  const seen = new Map();
  let running = 0;
  let peak = 0;
  const sub = q.subscribe(
    async (d) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(d.record.offset % 3);
      seen.set(str(d.record.value), (seen.get(str(d.record.value)) ?? 0) + 1);
      running--;
    },
    { concurrency: 3 },
  );
  assert.ok(sub instanceof Subscription);
  assert.equal(sub.running, true);
  // Records arrive while the subscription runs (its waits are woken).
  for (let i = 0; i < N; i += 10) {
    pond.sendMany(
      'jobs',
      Array.from({ length: 10 }, (_, j) => ({ value: `job ${i + j}`, partition: (i + j) % 3 })),
    );
    await sleep(5);
  }
  while (sub.handled < N) await sleep(10);
  await sub.stop();
  assert.equal(sub.running, false);
  assert.equal(seen.size, N);
  assert.ok([...seen.values()].every((n) => n === 1));
  assert.equal(peak, 3);
  assert.equal(sub.failed, 0);
  assert.equal(q.backlog(), 0);
  assert.equal(q.inFlight(), 0);
});

test('a failing handler nacks with its error as reason; dead letters carry it', async (t) => {
  const { clock, pond } = setup(t);
  pond.send('jobs', 'bad');
  pond.send('jobs', 'good');
  const q = pond.queue('jobs', { subscription: 'w', maxDeliveries: 2, deadLetterTopic: 'dead' });
  const sub = q.subscribe((d) => {
    if (str(d.record.value) === 'bad') throw new Error('cannot process bad');
  });
  // A failure comes back after the failure backoff (1 s, then 2 s).
  while (pond.offsets('dead', 0).endOffset === 0 || sub.handled < 1) {
    clock.advance(1000);
    await sleep(10);
  }
  await sub.stop();
  assert.equal(sub.handled, 1);
  assert.equal(sub.failed, 2);
  const [dead] = pond.read('dead', 0);
  const headers = Object.fromEntries(dead.headers.map(([n, v]) => [n, str(v)]));
  assert.equal(headers['logpond.dlq.reason'], 'cannot process bad');
  assert.equal(q.backlog(), 0);
});

test('stop() waits for running handlers; a handler may settle by itself', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('jobs', ['a', 'b']);
  const q = pond.queue('jobs', { subscription: 'w' });
  const errors = [];
  let finished = 0;
  const sub = q.subscribe(
    async (d) => {
      if (str(d.record.value) === 'a') {
        d.nack({ delayMs: 60_000 }); // settled by the handler: no ack after it
        return;
      }
      await sleep(150);
      finished++;
    },
    { concurrency: 2, onError: (e) => errors.push(e) },
  );
  await sleep(50);
  const start = performance.now();
  await sub.stop();
  assert.ok(performance.now() - start >= 80, 'stop waited for the running handler');
  assert.equal(finished, 1);
  assert.deepEqual(errors, []);
  assert.equal(q.backlog(), 1); // 'a' waits out its nack delay
  assert.equal(q.inFlight(), 0);
  await sub.done;
});

test('a subscription ends when its queue closes; settling failures go to onError', async (t) => {
  const { pond } = setup(t);
  pond.send('jobs', 'x');
  const q = pond.queue('jobs', { subscription: 'w' });
  const errors = [];
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const sub = q.subscribe(() => gate, { onError: (e, d) => errors.push([e.code, d && str(d.record.value)]) });
  await sleep(30);
  q.close();
  release();
  await sub.done;
  assert.equal(sub.running, false);
  assert.deepEqual(errors, [['CLOSED', 'x']]);
});

test('without onError (or when it throws) a settling failure is a process warning', async (t) => {
  const { pond } = setup(t);
  pond.sendMany('jobs', ['a', 'b']);
  const warnings = [];
  const listen = (w) => warnings.push(w);
  process.on('warning', listen);
  t.after(() => process.off('warning', listen));
  for (const onError of [undefined, () => { throw new Error('onError failed'); }]) {
    const q = pond.queue('jobs', { subscription: 'w' });
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    const sub = q.subscribe(() => gate, onError ? { onError } : undefined);
    while (q.inFlight() === 0) await sleep(5);
    q.close(); // the handler's ack then fails with Closed
    release();
    await sub.done;
  }
  await sleep(10); // warnings are emitted on the next tick
  assert.deepEqual(
    warnings.map((w) => [w.name, w.message]),
    [
      ['LogpondSubscriptionWarning', 'this queue consumer is closed'],
      ['LogpondSubscriptionWarning', 'onError failed'],
    ],
  );
});

test('misuse is refused with clear errors, never a crash', async (t) => {
  const { pond } = setup(t);
  assert.throws(() => pond.queue('jobs'), TypeError);
  assert.throws(() => pond.queue('jobs', {}), TypeError);
  assert.throws(() => pond.queue('jobs', { subscription: 'w', ackTimeout: 5 }), /unknown option 'ackTimeout'/);
  assert.throws(() => pond.queue('missing', { subscription: 'w' }), TopicNotFound);
  assert.throws(() => pond.queue('jobs', { subscription: 'w', maxInFlight: 0 }), InvalidArgument);
  assert.throws(() => pond.queue('jobs', { subscription: 'w', ackTimeoutMs: -1 }), InvalidArgument);
  assert.throws(() => pond.queue('jobs', { subscription: 'w', maxDeliveries: 0 }), InvalidArgument);
  assert.throws(() => pond.queue('jobs', { subscription: 'w', deadLetterTopic: 'jobs' }), InvalidArgument);
  assert.throws(() => pond.queue('jobs', { subscription: 'no spaces' }), (e) => e.code === 'INVALID_NAME');
  assert.throws(() => new Queue(), TypeError);
  assert.throws(() => new Delivery(), TypeError);

  const q = pond.queue('jobs', { subscription: 'w' });
  const other = pond.queue('jobs', { subscription: 'w' });
  await assert.rejects(q.receive({ maxMessages: 'all' }), TypeError);
  await assert.rejects(q.receive({ timeoutMs: -1 }), InvalidArgument);
  await assert.rejects(q.receive({ max: 1 }), TypeError);
  assert.throws(() => q.subscribe('handler'), TypeError);
  assert.throws(() => q.subscribe(() => {}, { concurrency: 0 }), InvalidArgument);
  assert.throws(() => q.subscribe(() => {}, { onError: 5 }), TypeError);
  assert.throws(() => q.ackMany(null), TypeError);
  assert.throws(() => q.ackMany([{}]), TypeError);
  q.ackMany([]);

  pond.sendMany('jobs', ['a', 'b']);
  const [a] = await q.receive();
  const [b] = await other.receive();
  assert.throws(() => q.ackMany([a, b]), InvalidArgument);
  assert.throws(() => a.nack({ delayMs: -1 }), InvalidArgument);
  assert.throws(() => a.nack({ delay: 1 }), TypeError);
  assert.throws(() => a.nack({ reason: 5 }), TypeError);
  a.ack();
  assert.throws(() => a.ack(), LeaseExpired);
  assert.throws(() => q.ackMany([a]), LeaseExpired);
  other.close();
  assert.throws(() => b.ack(), (e) => e instanceof Closed && /queue consumer is closed/.test(e.message));
  other.close();
  assert.throws(() => other.backlog(), Closed);
  assert.throws(() => other.subscribe(() => {}), Closed);
  assert.match(require('node:util').inspect(q), /Queue \{ topic: "jobs", subscription: "w" \}/);

  pond.close();
  await assert.rejects(q.receive(), (e) => e instanceof Closed && /pond is closed/.test(e.message));
  assert.throws(() => q.backlog(), Closed);
  assert.throws(() => pond.subscriptions('jobs'), Closed);
  q.close();
});

test('Symbol.dispose closes a queue; Symbol.asyncDispose stops a subscription', async (t) => {
  const { pond } = setup(t);
  const q = pond.queue('jobs', { subscription: 'w' });
  const sub = q.subscribe(async () => {});
  await sub[Symbol.asyncDispose]();
  assert.equal(sub.running, false);
  q[Symbol.dispose]();
  assert.equal(q.closed, true);
});
