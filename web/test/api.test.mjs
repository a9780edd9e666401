// The API in a real page: errors with codes, consumer groups and queues
// driven by a manual clock, waiting polls and receives, iteration and
// push subscriptions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harnessPage } from './browser.mjs';

/** @type {import('playwright-core').Page} */
let page;
harnessPage((p) => {
  page = p;
});

test('errors are Error subclasses with codes, never strings or RuntimeErrors', async () => {
  const got = await page.evaluate(async () => {
    const lp = /** @type {any} */ (window).logpond;
    const { Pond, ManualClock } = lp;
    const clock = new ManualClock(1000);
    const pond = Pond.memory({ clock });
    await pond.createTopic('t', { partitions: 2 });
    await pond.createTopic('small', { maxRecordBytes: 10 });
    await pond.createTopic('bounded', { maxBacklog: 2 });
    await pond.queue('bounded', { subscription: 's' });
    const c = await pond.consumer({ group: 'g', topics: ['t'] });
    const q = await pond.queue('t', { subscription: 'w', ackTimeoutMs: 100 });
    await pond.send('t', 'x', { partition: 0 });
    const [d] = await q.receive();
    clock.advance(200);
    await q.receive(); // redelivered: the first lease is gone
    /** @type {Array<[string, () => unknown]>} */
    const cases = [
      ['TopicExists', () => pond.createTopic('t')],
      ['TopicNotFound', () => pond.send('missing', 'x')],
      ['InvalidName', () => pond.createTopic('bad name!')],
      ['InvalidName', () => pond.createTopic('__internal')],
      ['InvalidArgument', () => pond.createTopic('zero', { partitions: 0 })],
      ['InvalidArgument', () => pond.send('t', 'x', { partition: 7 })],
      ['InvalidArgument', () => pond.send('t', 'x', { partition: -1 })],
      ['InvalidArgument', () => pond.send('t', 'x', { partition: 1.5 })],
      ['InvalidArgument', () => pond.send('t', 'x', { timestampMs: -5 })],
      ['InvalidArgument', () => pond.read('t', 0, { offset: 2 ** 60 })],
      ['InvalidArgument', () => pond.read('t', 0, { offset: 2n ** 60n })],
      ['InvalidArgument', () => pond.read('t', Number.NaN)],
      ['InvalidArgument', () => pond.createTopic('neg', { retentionMs: -1 })],
      ['InvalidArgument', () => pond.consumer({ group: 'g', topics: ['t'], assignor: 'nope' })],
      ['InvalidArgument', () => pond.consumer({ group: '', topics: ['t'] })],
      ['InvalidArgument', () => pond.queue('t', { subscription: 'x', ackTimeoutMs: 0 })],
      ['InvalidArgument', () => pond.queue('t', { subscription: 'x', maxInFlight: -3 })],
      ['RecordTooLarge', () => pond.send('small', 'more than ten bytes')],
      ['OffsetOutOfRange', () => pond.read('t', 0, { offset: 99 })],
      ['Backpressure', () => pond.sendMany('bounded', ['1', '2', '3'])],
      ['CommitFailed', () => c.commit([{ topic: 't', partition: 5, offset: 1 }])],
      ['LeaseExpired', () => d.ack()],
      ['TypeError', () => pond.send('t', 42)],
      ['TypeError', () => pond.send('t', 'x', { headers: 'nope' })],
      ['TypeError', () => pond.createTopic('x', { partitons: 2 })],
      ['TypeError', () => pond.consumer({ group: 'g' })],
    ];
    const out = [];
    for (const [want, f] of cases) {
      try {
        await f();
        out.push([want, 'no error']);
      } catch (e) {
        const ok =
          e instanceof Error &&
          e.name === want &&
          (want === 'TypeError' || (e instanceof lp.LogpondError && e instanceof lp[want] && typeof e.code === 'string'));
        out.push([want, ok ? 'ok' : `${e?.name}: ${e?.message}`]);
      }
    }
    // Closed, on every kind of object.
    await pond.close();
    for (const f of [() => pond.topics(), () => pond.send('t', 'x'), () => c.commit(), () => q.backlog(), () => pond.flush()]) {
      try {
        await f();
        out.push(['Closed', 'no error']);
      } catch (e) {
        out.push(['Closed', e instanceof lp.Closed && e.code === 'CLOSED' ? 'ok' : `${e?.name}: ${e?.message}`]);
      }
    }
    return out;
  });
  for (const [want, result] of got) assert.equal(result, 'ok', want);
  const codes = await page.evaluate(() => {
    const lp = /** @type {any} */ (window).logpond;
    return [
      'TopicExists', 'TopicNotFound', 'InvalidName', 'InvalidArgument', 'RecordTooLarge', 'Backpressure',
      'OffsetOutOfRange', 'Corruption', 'PondLocked', 'Closed', 'CommitFailed', 'LeaseExpired', 'IoError',
    ].map((n) => [n, new lp[n]('m').code, new lp[n]('m') instanceof lp.LogpondError]);
  });
  assert.deepEqual(codes, [
    ['TopicExists', 'TOPIC_EXISTS', true],
    ['TopicNotFound', 'TOPIC_NOT_FOUND', true],
    ['InvalidName', 'INVALID_NAME', true],
    ['InvalidArgument', 'INVALID_ARGUMENT', true],
    ['RecordTooLarge', 'RECORD_TOO_LARGE', true],
    ['Backpressure', 'BACKPRESSURE', true],
    ['OffsetOutOfRange', 'OFFSET_OUT_OF_RANGE', true],
    ['Corruption', 'CORRUPTION', true],
    ['PondLocked', 'POND_LOCKED', true],
    ['Closed', 'CLOSED', true],
    ['CommitFailed', 'COMMIT_FAILED', true],
    ['LeaseExpired', 'LEASE_EXPIRED', true],
    ['IoError', 'IO', true],
  ]);
});

test('garbage in gives errors, never a wasm trap', async () => {
  const traps = await page.evaluate(async () => {
    const lp = /** @type {any} */ (window).logpond;
    const pond = lp.Pond.memory();
    await pond.createTopic('t', { partitions: 3 });
    const weird = [undefined, null, -1, -0, 0.5, 2 ** 53, 2 ** 64, -(2 ** 63), Number.NaN, Infinity, -Infinity, 1e308, '', 'x', {}, [], 2n ** 70n, new Uint8Array(0)];
    const calls = [
      (v) => pond.send('t', 'x', { partition: v }),
      (v) => pond.send('t', 'x', { timestampMs: v }),
      (v) => pond.send('t', v),
      (v) => pond.send('t', 'x', { key: v }),
      (v) => pond.read('t', v),
      (v) => pond.read('t', 0, { offset: v, maxRecords: v }),
      (v) => pond.read('t', 0, { maxBytes: v }),
      (v) => pond.offsetForTime('t', 0, v),
      (v) => pond.deleteRecords('t', 0, v),
      (v) => pond.createTopic(`c${Math.random()}`.replace('.', ''), { partitions: v, segmentBytes: v }),
      (v) => pond.createTopic(`c${Math.random()}`.replace('.', ''), { retentionMs: v, maxBacklog: v }),
      (v) => pond.sendMany('t', [{ value: 'x', partition: v, headers: [['h', v]] }]),
      (v) => pond.consumer({ group: 'g', topics: ['t'], sessionTimeoutMs: v }),
      (v) => pond.queue('t', { subscription: 's', ackTimeoutMs: v, maxDeliveries: v, maxInFlight: v }),
      async (v) => {
        const c = await pond.consumer({ group: 'h', topics: ['t'], autoOffsetReset: 'earliest' });
        try {
          await c.seek('t', 0, v);
          await c.commit([{ topic: 't', partition: v, offset: v }]);
          await c.poll({ maxRecords: v });
        } finally {
          await c.close();
        }
      },
      async (v) => {
        const q = await pond.queue('t', { subscription: 'q' });
        try {
          const ds = await q.receive({ maxMessages: 2 });
          for (const d of ds) await d.nack({ delayMs: v });
          await q.receive({ maxMessages: v, timeoutMs: 0 });
        } finally {
          await q.close();
        }
      },
      (v) => new lp.ManualClock(v).advance(v),
    ];
    const bad = [];
    for (const call of calls) {
      for (const v of weird) {
        try {
          await call(v);
        } catch (e) {
          const fine = e instanceof TypeError || (e instanceof lp.LogpondError && e.code !== 'INTERNAL');
          if (!fine) bad.push(`${call.toString().slice(0, 60)} with ${String(v)}: ${e?.name}: ${e?.message}`);
        }
      }
    }
    // The pond still works.
    await pond.send('t', 'still fine', { partition: 0 });
    await pond.close();
    return bad;
  });
  assert.deepEqual(traps, []);
});

test('a consumer group with a manual clock: split, session timeout, rebalance, lag', async () => {
  const got = await page.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    const clock = new ManualClock(1_000_000);
    const pond = Pond.memory({ clock });
    await pond.createTopic('orders', { partitions: 4 });
    for (let p = 0; p < 4; p++) await pond.sendMany('orders', Array.from({ length: 5 }, (_, i) => ({ value: `${p}-${i}`, partition: p })));
    const options = { group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', sessionTimeoutMs: 1000, assignor: 'range' };
    const a = await pond.consumer(options);
    const b = await pond.consumer(options);
    await a.poll();
    await b.poll();
    const split = [a.assignment(), b.assignment()];
    const lagA = a.lag();
    // b stops polling: past its session it leaves the group, and a takes all.
    clock.advance(600);
    await a.poll();
    clock.advance(600);
    await a.poll({ maxRecords: 0 });
    await a.poll({ maxRecords: 0 });
    const after = a.assignment();
    const rest = (await a.poll({ maxRecords: 100 })).length;
    await a.commit();
    const committed = [0, 1, 2, 3].map((p) => a.committed('orders', p));
    const positions = [0, 1, 2, 3].map((p) => a.position('orders', p));
    await a.close();
    await b.close();
    await pond.close();
    return { split, lagA, after, rest, committed, positions };
  });
  assert.deepEqual(got.split, [
    [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }],
    [{ topic: 'orders', partition: 2 }, { topic: 'orders', partition: 3 }],
  ]);
  assert.deepEqual(got.lagA, [{ topic: 'orders', partition: 0, lag: 0 }, { topic: 'orders', partition: 1, lag: 0 }]);
  assert.deepEqual(got.after.map((/** @type {any} */ x) => x.partition), [0, 1, 2, 3]);
  assert.equal(got.rest, 10);
  assert.deepEqual(got.committed, [5, 5, 5, 5]);
  assert.deepEqual(got.positions, [5, 5, 5, 5]);
});

test('a waiting poll resolves when a record is sent in the tab, and at its timeout', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = Pond.memory();
    await pond.createTopic('t', { partitions: 2 });
    const c = await pond.consumer({ group: 'g', topics: ['t'] });
    await c.poll();
    const t0 = performance.now();
    const waiting = c.poll({ timeoutMs: 10_000 });
    setTimeout(() => pond.send('t', 'hello'), 50);
    const records = await waiting;
    const woke = performance.now() - t0;
    const t1 = performance.now();
    const none = await c.poll({ timeoutMs: 100 });
    const timedOut = performance.now() - t1;
    // Closing the consumer ends a wait: it rejects with Closed (the API contract, as in Node).
    const pending = c.poll({ timeoutMs: Infinity });
    setTimeout(() => c.close(), 20);
    const closed = await pending.then((r) => `resolved ${r.length}`, (e) => e.name);
    await pond.close();
    return { values: records.map((r) => /** @type {any} */ (window).text(r.value)), woke, none: none.length, timedOut, closed };
  });
  assert.deepEqual(got.values, ['hello']);
  assert.ok(got.woke < 1000, `woke after ${got.woke} ms`);
  assert.equal(got.none, 0);
  assert.ok(got.timedOut >= 95 && got.timedOut < 2000, `timed out after ${got.timedOut} ms`);
  assert.equal(got.closed, 'Closed');
});

test('two group members waiting in for-await each get their partitions; iteration ends on close', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const text = /** @type {any} */ (window).text;
    const pond = Pond.memory();
    await pond.createTopic('t', { partitions: 2 });
    const members = await Promise.all([0, 1].map(() => pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest', assignor: 'round-robin' })));
    const seen = [[], []];
    const loops = members.map(async (c, i) => {
      for await (const r of c) seen[i].push(`${r.partition}:${text(r.value)}`);
      return 'ended';
    });
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 10; i++) await pond.send('t', `v${i}`, { partition: i % 2 });
    const deadline = performance.now() + 5000;
    while (seen[0].length + seen[1].length < 10 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    members.forEach((c) => c.close());
    const ended = await Promise.all(loops);
    await pond.close();
    return { seen, ended };
  });
  assert.deepEqual(got.ended, ['ended', 'ended']);
  const all = [...got.seen[0], ...got.seen[1]].sort();
  assert.equal(all.length, 10);
  // Each member read one partition.
  for (const s of got.seen) assert.equal(new Set(s.map((x) => x.split(':')[0])).size, 1);
});

test('leaving a for-await early does not commit records the loop did not see', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = Pond.memory();
    await pond.createTopic('t');
    await pond.sendMany('t', Array.from({ length: 20 }, (_, i) => `v${i}`));
    const c = await pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest' });
    let n = 0;
    for await (const r of c) {
      if (++n === 5) break;
    }
    const position = c.position('t', 0);
    await c.close(); // auto-commit
    const again = await pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest' });
    const committed = again.committed('t', 0);
    const next = (await again.poll())[0].offset;
    await again.close();
    await pond.close();
    return { position, committed, next };
  });
  assert.deepEqual(got, { position: 5, committed: 5, next: 5 });
});

test('for-await with auto-commit across a rebalance: every record seen exactly once', async () => {
  const got = await page.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    const clock = new ManualClock(0);
    const pond = Pond.memory({ clock });
    await pond.createTopic('t', { partitions: 4 });
    for (let i = 0; i < 40; i++) await pond.send('t', `v${i}`, { partition: i % 4 });
    const options = { group: 'g', topics: ['t'], autoOffsetReset: 'earliest', autoCommit: true, autoCommitIntervalMs: 100 };
    const first = await pond.consumer(options);
    /** @type {string[][]} */
    const seen = [[], []];
    const see = (/** @type {number} */ i, /** @type {any} */ r) => seen[i].push(`${r.partition}:${r.offset}`);
    // A few records, then an auto-commit falls due.
    const it = first[Symbol.asyncIterator]();
    for (let n = 0; n < 3; n++) see(0, (await it.next()).value);
    clock.advance(150);
    for (let n = 0; n < 2; n++) see(0, (await it.next()).value);
    const beforeJoin = seen[0].length;
    // A second member joins: the group rebalances while the first iterates.
    const second = await pond.consumer(options);
    const loops = [
      (async () => {
        for (let r = await it.next(); !r.done; r = await it.next()) see(0, r.value);
      })(),
      (async () => {
        for await (const r of second) see(1, r);
      })(),
    ];
    const deadline = performance.now() + 5000;
    while (seen[0].length + seen[1].length < 40 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50)); // room for a duplicate to show up
    const assignments = [first.assignment().length, second.assignment().length];
    await first.close();
    await second.close();
    await Promise.all(loops);
    const probe = await pond.consumer(options);
    const committed = [0, 1, 2, 3].map((p) => probe.committed('t', p));
    await probe.close();
    await pond.close();
    return { seen, beforeJoin, assignments, committed };
  });
  const all = [...got.seen[0], ...got.seen[1]];
  assert.equal(new Set(all).size, all.length, `a record seen twice: ${all.sort()}`);
  assert.equal(all.length, 40);
  assert.deepEqual(got.assignments, [2, 2]);
  assert.ok(got.seen[0].length > got.beforeJoin, 'the first member kept iterating after the join');
  assert.ok(got.seen[1].length > 0, 'the second member drained its partitions');
  assert.deepEqual(got.committed, [10, 10, 10, 10]);
});

test('queues with a manual clock: lease expiry and nack delay wake a waiting receive', async () => {
  const got = await page.evaluate(async () => {
    const { Pond, ManualClock } = /** @type {any} */ (window).logpond;
    const clock = new ManualClock(0);
    const pond = Pond.memory({ clock });
    await pond.createTopic('jobs');
    const q1 = await pond.queue('jobs', { subscription: 'workers', ackTimeoutMs: 5000 });
    const q2 = await pond.queue('jobs', { subscription: 'workers', ackTimeoutMs: 5000 });
    await pond.send('jobs', 'job');
    const [d] = await q1.receive();
    const waiting = q2.receive({ timeoutMs: 10_000 });
    let settled = false;
    waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 30));
    const beforeExpiry = settled;
    clock.advance(5001); // q1's lease runs out: q2 gets the record
    const [again] = await waiting;
    const ackLate = await d.ack().then(
      () => 'acked',
      (e) => e.code,
    );
    await again.nack({ delayMs: 1000 });
    const early = await q1.receive({ timeoutMs: 30 });
    const later = q1.receive({ timeoutMs: 10_000 });
    clock.advance(1000);
    const [third] = await later;
    await third.ack();
    const out = { beforeExpiry, count: again.deliveryCount, ackLate, early: early.length, third: third.deliveryCount, backlog: q1.backlog() };
    await pond.close();
    return out;
  });
  assert.deepEqual(got, { beforeExpiry: false, count: 2, ackLate: 'LEASE_EXPIRED', early: 0, third: 3, backlog: 0 });
});

test('queues on the wall clock: a timer wakes the receive when a lease runs out', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = Pond.memory();
    await pond.createTopic('jobs');
    const q = await pond.queue('jobs', { subscription: 'w', ackTimeoutMs: 200 });
    await pond.send('jobs', 'job');
    await q.receive(); // never acked
    const t0 = performance.now();
    const [d] = await q.receive({ timeoutMs: 5000 });
    const waited = performance.now() - t0;
    await d.nack({ delayMs: 150 });
    const t1 = performance.now();
    const [e] = await q.receive({ timeoutMs: 5000 });
    const delayed = performance.now() - t1;
    await e.ack();
    await pond.close();
    return { count: d.deliveryCount, waited, delayed, third: e.deliveryCount };
  });
  assert.equal(got.count, 2);
  assert.equal(got.third, 3);
  assert.ok(got.waited >= 150 && got.waited < 2000, `lease expiry after ${got.waited} ms`);
  assert.ok(got.delayed >= 100 && got.delayed < 2000, `nack delay after ${got.delayed} ms`);
});

test('competing consumers, subscribe with concurrency, dead letters, for-await on a queue', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const text = /** @type {any} */ (window).text;
    const pond = Pond.memory();
    await pond.createTopic('jobs', { partitions: 2 });
    const handled = [];
    const failures = [];
    let running = 0;
    let maxRunning = 0;
    const q = await pond.queue('jobs', { subscription: 'workers', maxDeliveries: 2, deadLetterTopic: 'jobs.dlq' });
    const sub = q.subscribe(
      async (d) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        const v = text(d.record.value);
        if (v.startsWith('poison')) throw new Error(`cannot handle ${v}`);
        handled.push(v);
      },
      // A failing handler is reported (by default through reportError).
      { concurrency: 3, onError: (e, d) => failures.push([e.message, text(d.record.value)]) },
    );
    for (let i = 0; i < 30; i++) await pond.send('jobs', i === 7 ? 'poison 7' : `job ${i}`);
    // The poison record fails twice (backoffs of 1 s and 2 s) before it is dead-lettered.
    const deadline = performance.now() + 15000;
    while ((handled.length < 29 || q.backlog() > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.stop();
    const dead = pond.read('jobs.dlq', 0).map((r) => [text(r.value), r.headers.find(([n]) => n === 'logpond.dlq.reason')?.[1]]);
    // A second subscription gets every record too (fan-out); iterate it.
    const q2 = await pond.queue('jobs', { subscription: 'audit' });
    let n = 0;
    for await (const d of q2) {
      await d.ack();
      if (++n === 30) await q2.close();
    }
    const out = { handled: handled.length, unique: new Set(handled).size, maxRunning, dead: dead.map(([v, why]) => [v, text(why)]), audit: n, backlog: q.backlog(), stopped: sub.stopped, failures };
    await q.close();
    await pond.close();
    return out;
  });
  assert.equal(got.handled, 29);
  assert.equal(got.unique, 29);
  assert.ok(got.maxRunning > 1 && got.maxRunning <= 3, `at most 3 handlers ran at once, saw ${got.maxRunning}`);
  assert.deepEqual(got.dead, [['poison 7', 'cannot handle poison 7']]);
  assert.deepEqual(got.failures, [['cannot handle poison 7', 'poison 7'], ['cannot handle poison 7', 'poison 7']]);
  assert.equal(got.audit, 30);
  assert.equal(got.backlog, 0);
  assert.equal(got.stopped, true);
});

test('values are Uint8Array; inputs take strings, Uint8Array, ArrayBuffer and other views', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = Pond.memory();
    await pond.createTopic('t');
    await pond.send('t', 'text', { key: new Uint8Array([1, 2]), headers: { a: 'b' } });
    await pond.send('t', new Uint16Array([0x4142]).buffer);
    await pond.sendMany('t', [new TextEncoder().encode('bytes'), { value: null, key: 'k', headers: new Map([['m', new Uint8Array([9])]]) }]);
    const rs = pond.read('t', 0);
    const out = rs.map((r) => ({
      valueIsU8: r.value === null || r.value instanceof Uint8Array,
      value: r.value === null ? null : Array.from(r.value),
      key: r.key === null ? null : Array.from(r.key),
      headers: r.headers.map(([n, v]) => [n, Array.from(v)]),
    }));
    await pond.close();
    return out;
  });
  assert.deepEqual(got, [
    { valueIsU8: true, value: [116, 101, 120, 116], key: [1, 2], headers: [['a', [98]]] },
    { valueIsU8: true, value: [0x42, 0x41], key: null, headers: [] },
    { valueIsU8: true, value: [98, 121, 116, 101, 115], key: null, headers: [] },
    { valueIsU8: true, value: null, key: [107], headers: [['m', [9]]] },
  ]);
});

test('send and sendMany with timeoutMs wait out Backpressure until an ack makes room; skipDamaged and nextDue are wired', async () => {
  const got = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    const pond = Pond.memory();
    await pond.createTopic('t', { maxBacklog: 2 });
    const q = await pond.queue('t', { subscription: 's' });
    await pond.sendMany('t', ['a', 'b']);
    let syncCode = null;
    try {
      await pond.send('t', 'c');
    } catch (e) {
      syncCode = e.code;
    }
    const start = performance.now();
    const timedOut = await pond.send('t', 'c', { timeoutMs: 80 }).then(
      () => null,
      (e) => e.code,
    );
    const waitedMs = performance.now() - start;
    const waiting = pond.send('t', 'c', { timeoutMs: 10_000 });
    setTimeout(async () => {
      const [d] = await q.receive();
      await d.ack();
    }, 50);
    const md = await waiting;
    const [d2] = await q.receive();
    const many = pond.sendMany('t', ['x'], { timeoutMs: 10_000 });
    setTimeout(() => d2.ack(), 30);
    const offsets = (await many).map((m) => m.offset);
    const skipped = await q.skipDamaged();
    await pond.close();
    return { syncCode, timedOut, waitedMs, offset: md.offset, offsets, skipped };
  });
  assert.equal(got.syncCode, 'BACKPRESSURE');
  assert.equal(got.timedOut, 'BACKPRESSURE');
  assert.ok(got.waitedMs >= 70, `waited ${got.waitedMs} ms`);
  assert.equal(got.offset, 2);
  assert.deepEqual(got.offsets, [3]);
  assert.deepEqual(got.skipped, []);
});
