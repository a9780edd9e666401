// The API suite both JavaScript packages run, so that they cannot drift:
// Node runs it directly (node/test/shared-api.test.mjs), browsers in
// headless Chromium (web/test/shared-api.test.mjs, which loads this file
// into the test harness page). Runtime-neutral: no node: imports; each
// test gets the package (`lp`) and `check`, a small assert.

/** @param {unknown} a @param {unknown} b */
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Asserts that fail with what they saw. */
export const check = {
  /** @param {unknown} got @param {unknown} want @param {string} [what] */
  equal(got, want, what = '') {
    if (!Object.is(got, want)) throw new Error(`${what} expected ${String(want)}, got ${String(got)}`);
  },
  /** @param {unknown} got @param {unknown} want @param {string} [what] */
  deepEqual(got, want, what = '') {
    if (!same(got, want)) throw new Error(`${what} expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  },
  /** @param {unknown} v @param {string} [what] */
  ok(v, what = 'expected a truthy value') {
    if (!v) throw new Error(what);
  },
  /** The error `f` throws (or rejects with); fails when it does not. @param {() => unknown} f */
  async error(f) {
    try {
      await f();
    } catch (e) {
      return /** @type {any} */ (e);
    }
    throw new Error(`expected ${String(f)} to throw`);
  },
};

/** @param {Uint8Array | null} b */
const text = (b) => (b === null ? null : new TextDecoder().decode(b));

/**
 * The tests: `[name, async (lp) => {...}]`.
 * @type {Array<[string, (lp: any) => Promise<void>]>}
 */
export const tests = [
  ['error classes share one hierarchy and carry stable codes', async (lp) => {
    const { Pond, LogpondError } = lp;
    const pond = Pond.memory();
    await pond.createTopic('t', { partitions: 2, maxRecordBytes: 8 });
    const cases = [
      ['TopicExists', 'TOPIC_EXISTS', () => pond.createTopic('t')],
      ['TopicNotFound', 'TOPIC_NOT_FOUND', () => pond.send('missing', 'x')],
      ['InvalidName', 'INVALID_NAME', () => pond.createTopic('bad name!')],
      ['InvalidArgument', 'INVALID_ARGUMENT', () => pond.send('t', 'x', { partition: 7 })],
      ['InvalidArgument', 'INVALID_ARGUMENT', () => pond.read('t', 0, { offset: 2 ** 60 })],
      ['RecordTooLarge', 'RECORD_TOO_LARGE', () => pond.send('t', 'more than eight bytes')],
      ['OffsetOutOfRange', 'OFFSET_OUT_OF_RANGE', () => pond.read('t', 0, { offset: 99 })],
    ];
    for (const [name, code, f] of cases) {
      const e = await check.error(f);
      check.ok(e instanceof lp[name] && e instanceof LogpondError && e instanceof Error, `${name}: got ${e?.name}: ${e?.message}`);
      check.equal(e.name, name);
      check.equal(e.code, code, name);
    }
    for (const f of [() => pond.send('t', 42), () => pond.createTopic('x', { partitons: 2 }), () => pond.consumer({ group: 'g' })]) {
      check.equal((await check.error(f)).name, 'TypeError');
    }
    check.equal(new lp.Closed('x').code, 'CLOSED');
    check.equal(new LogpondError('x', 'SOMETHING').code, 'SOMETHING');
    await pond.close();
    check.equal((await check.error(() => pond.topics())).code, 'CLOSED');
  }],

  ['send, sendMany and read round-trip keys, values, headers and timestamps', async (lp) => {
    const pond = lp.Pond.memory({ clock: new lp.ManualClock(1000) });
    await pond.createTopic('t');
    const md = await pond.send('t', 'v1', { key: 'k1', headers: [['h', 'x'], ['h', new Uint8Array([1])]] });
    check.deepEqual(md, { topic: 't', partition: 0, offset: 0, timestampMs: 1000 });
    const many = await pond.sendMany('t', [new TextEncoder().encode('v2'), { value: null, key: 'k3', timestampMs: 5 }, { value: 'v4', headers: { a: 'b' } }]);
    check.deepEqual(many.map((m) => m.offset), [1, 2, 3]);
    const rs = pond.read('t', 0);
    check.deepEqual(
      rs.map((r) => [r.topic, r.offset, r.timestampMs, text(r.key), text(r.value), r.headers.map(([n, v]) => [n, Array.from(v)])]),
      [
        ['t', 0, 1000, 'k1', 'v1', [['h', [120]], ['h', [1]]]],
        ['t', 1, 1000, null, 'v2', []],
        ['t', 2, 5, 'k3', null, []],
        ['t', 3, 1000, null, 'v4', [['a', [98]]]],
      ],
    );
    check.ok(rs[0].value instanceof Uint8Array);
    check.deepEqual(pond.read('t', 0, { offset: 2, maxRecords: 1 }).map((r) => r.offset), [2]);
    check.deepEqual(pond.offsets('t', 0), { startOffset: 0, endOffset: 4 });
    check.equal(pond.offsetForTime('t', 0, 999), 0);
    check.equal(pond.offsetForTime('t', 0, 5000), null);
    // A batch is checked whole before anything is written.
    check.equal((await check.error(() => pond.sendMany('t', ['ok', 42]))).name, 'TypeError');
    check.equal(pond.offsets('t', 0).endOffset, 4);
    await pond.close();
  }],

  ['topics: create, describe with defaults, list, delete', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('b', { partitions: 3, retentionMs: 60_000, compact: true });
    await pond.createTopic('a');
    check.deepEqual(pond.topics(), ['a', 'b']);
    check.equal(pond.hasTopic('a'), true);
    const d = pond.describe('b');
    check.equal(d.name, 'b');
    check.deepEqual(d.partitions.map((p) => [p.partition, p.startOffset, p.endOffset]), [[0, 0, 0], [1, 0, 0], [2, 0, 0]]);
    check.equal(d.config.partitions, 3);
    check.equal(d.config.retentionMs, 60_000);
    check.equal(d.config.compact, true);
    check.equal(d.config.retentionBytes, null);
    check.equal(d.config.maxBacklog, null);
    await pond.deleteTopic('a');
    check.deepEqual(pond.topics(), ['b']);
    await pond.close();
  }],

  ['ManualClock drives timestamps and moves only when told', async (lp) => {
    const clock = new lp.ManualClock(new Date(5000));
    check.equal(clock.nowMs(), 5000);
    clock.advance(250);
    clock.advance(10n);
    check.equal(clock.nowMs(), 5260);
    clock.set(100);
    const pond = lp.Pond.memory({ clock });
    await pond.createTopic('t');
    check.equal((await pond.send('t', 'x')).timestampMs, 100);
    check.equal((await check.error(() => lp.Pond.memory({ clock: {} }))).name, 'TypeError');
    await pond.close();
  }],

  ['a consumer group: poll, commit, committed, position, seek, lag, members as properties', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t', { partitions: 2 });
    for (let i = 0; i < 6; i++) await pond.send('t', `v${i}`, { partition: i % 2 });
    const c = await pond.consumer({ group: 'g', topics: 't', autoOffsetReset: 'earliest', autoCommit: false });
    check.equal(c.group, 'g');
    check.deepEqual([...c.topics], ['t']);
    check.equal(typeof c.memberId, 'number');
    check.equal(typeof c.generation, 'number');
    check.deepEqual(c.assignment(), [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]);
    const got = await c.poll({ maxRecords: 100 });
    check.deepEqual(got.map((r) => text(r.value)).sort(), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    check.equal(got[0].topic, 't');
    check.equal(c.committed('t', 0), null);
    await c.commit();
    check.equal(c.committed('t', 0), 3);
    check.equal(c.position('t', 1), 3);
    await c.seek('t', 0, 1);
    check.deepEqual(c.lag(), [{ topic: 't', partition: 0, lag: 2 }, { topic: 't', partition: 1, lag: 0 }]);
    await c.commit([{ topic: 't', partition: 1, offset: 2 }]);
    check.equal(c.committed('t', 1), 2);
    check.equal((await check.error(() => c.commit([{ topic: 't', partition: 9, offset: 1 }]))).name, 'CommitFailed');
    await c.seekToEnd();
    check.deepEqual(await c.poll(), []);
    await c.close();
    await c.close();
    check.equal(c.closed, true);
    check.equal((await check.error(() => c.poll())).name, 'Closed');
    await pond.close();
  }],

  ['groups and describeGroup look at a group without joining it', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t', { partitions: 2 });
    for (let i = 0; i < 6; i++) await pond.send('t', `v${i}`, { partition: i % 2 });
    const c = await pond.consumer({ group: 'billing', topics: 't', autoOffsetReset: 'earliest', autoCommit: false });
    await c.poll({ maxRecords: 100 });
    await c.commit([{ topic: 't', partition: 0, offset: 2 }]);
    check.deepEqual(pond.groups(), ['billing']);
    const info = pond.describeGroup('billing');
    check.equal(info.group, 'billing');
    check.equal(info.generation, c.generation);
    check.deepEqual(info.members, [{ memberId: c.memberId, assignment: [['t', 0], ['t', 1]] }]);
    check.deepEqual(info.offsets, [
      { topic: 't', partition: 0, committed: 2, end: 3, lag: 1, consumer: c.memberId },
      { topic: 't', partition: 1, committed: null, end: 3, lag: 3, consumer: c.memberId },
    ]);
    check.equal(c.generation, info.generation);
    check.deepEqual(pond.describeGroup('nobody').members, []);
    check.equal((await check.error(() => pond.describeGroup(7))).name, 'TypeError');
    await c.close();
    await pond.close();
  }],

  ['a waiting poll wakes on a send and rejects with Closed when its consumer closes', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t');
    const c = await pond.consumer({ group: 'g', topics: ['t'] });
    await c.poll();
    const waiting = c.poll({ timeoutMs: 10_000 });
    setTimeout(() => pond.send('t', 'hello'), 30);
    check.deepEqual((await waiting).map((r) => text(r.value)), ['hello']);
    const t0 = Date.now();
    check.deepEqual(await c.poll({ timeoutMs: 50 }), []);
    check.ok(Date.now() - t0 >= 40, 'the poll waited out its timeout');
    const pending = c.poll({ timeoutMs: Infinity });
    setTimeout(() => c.close(), 20);
    check.equal((await check.error(() => pending)).name, 'Closed');
    await pond.close();
  }],

  ['for await hands out records one by one and ends when the consumer closes', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t');
    await pond.sendMany('t', ['a', 'b', 'c']);
    const c = await pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest' });
    const seen = [];
    for await (const r of c) {
      seen.push(text(r.value));
      if (seen.length === 2) break;
    }
    check.equal(c.position('t', 0), 2);
    setTimeout(() => pond.send('t', 'd'), 20);
    for await (const r of c) {
      seen.push(text(r.value));
      if (seen.length === 4) setTimeout(() => c.close(), 10);
    }
    check.deepEqual(seen, ['a', 'b', 'c', 'd']);
    await pond.close();
  }],

  ['queues: receive, ack, nack, ackMany, redelivery counts, backlog and inFlight', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('jobs');
    await pond.sendMany('jobs', ['a', 'b', 'c', 'd']);
    const q = await pond.queue('jobs', 'workers'); // a name alone: default settings
    check.equal(q.topic, 'jobs');
    check.equal(q.subscription, 'workers');
    check.deepEqual(pond.subscriptions('jobs'), ['workers']);
    const [a] = await q.receive();
    check.equal(text(a.record.value), 'a');
    check.equal(a.deliveryCount, 1);
    check.equal(a.queue, q);
    await a.nack();
    check.equal(a.done, true);
    const got = await q.receive({ maxMessages: 10 });
    got.sort((x, y) => x.record.offset - y.record.offset);
    check.deepEqual(got.map((d) => [text(d.record.value), d.deliveryCount]), [['a', 2], ['b', 1], ['c', 1], ['d', 1]]);
    check.equal(q.inFlight(), 4);
    await got[0].ack();
    await q.ackMany(got.slice(1, 3));
    check.ok(got[1].done && got[2].done);
    check.equal(q.backlog(), 1);
    check.equal((await check.error(() => got[0].ack())).name, 'LeaseExpired');
    const other = await pond.queue('jobs', { subscription: 'other' });
    check.equal((await check.error(() => other.ackMany([got[3]]))).code, 'INVALID_ARGUMENT');
    check.equal((await check.error(() => q.ackMany([{}]))).name, 'TypeError');
    await q.ackMany([got[3]]);
    check.equal(q.backlog(), 0);
    await q.close();
    check.equal((await check.error(() => q.receive())).name, 'Closed');
    await pond.close();
  }],

  ['queues with a ManualClock: an expired lease is redelivered; dead letters after maxDeliveries', async (lp) => {
    const clock = new lp.ManualClock(0);
    const pond = lp.Pond.memory({ clock });
    await pond.createTopic('jobs');
    const q = await pond.queue('jobs', { subscription: 'w', ackTimeoutMs: 100, maxDeliveries: 2, deadLetterTopic: 'jobs.dlq' });
    await pond.send('jobs', 'x');
    const [first] = await q.receive();
    const waiting = q.receive({ timeoutMs: 10_000 });
    clock.advance(150);
    const [again] = await waiting;
    check.equal(again.deliveryCount, 2);
    check.equal((await check.error(() => first.ack())).name, 'LeaseExpired');
    await again.nack({ reason: 'broken' });
    check.deepEqual(await q.receive(), []);
    const dead = pond.read('jobs.dlq', 0);
    check.deepEqual(dead.map((r) => text(r.value)), ['x']);
    check.equal(text(dead[0].headers.find(([n]) => n === 'logpond.dlq.reason')?.[1] ?? null), 'broken');
    await pond.close();
  }],

  ['subscribe: handlers ack on return, nack on failure; stop waits for them', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('jobs');
    const q = await pond.queue('jobs', { subscription: 'w', maxDeliveries: 1 });
    const done = [];
    const errors = [];
    const sub = q.subscribe(
      async (d) => {
        await new Promise((r) => setTimeout(r, 2));
        if (text(d.record.value) === 'bad') throw new Error('no');
        done.push(text(d.record.value));
      },
      { concurrency: 2, onError: (e, d) => errors.push([/** @type {Error} */ (e).message, d && text(d.record.value)]) },
    );
    check.equal(sub.queue, q);
    check.equal(sub.running, true);
    await pond.sendMany('jobs', ['a', 'bad', 'b', 'c']);
    const deadline = Date.now() + 5000;
    while ((sub.handled < 3 || sub.failed < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await sub.stop();
    check.equal(sub.running, false);
    check.equal(sub.stopped, true);
    check.deepEqual(done.sort(), ['a', 'b', 'c']);
    check.equal(sub.failed, 1);
    // A failing handler is reported, never silent (and its record backs off).
    check.deepEqual(errors, [['no', 'bad']]);
    check.equal(q.backlog(), 1); // the failed one, not settled
    check.equal((await check.error(() => q.subscribe(42))).name, 'TypeError');
    await pond.close();
  }],

  ['for await on a queue yields deliveries and ends when the queue closes', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('jobs');
    await pond.sendMany('jobs', ['a', 'b']);
    const q = await pond.queue('jobs', { subscription: 'w' });
    const seen = [];
    for await (const d of q) {
      seen.push(text(d.record.value));
      await d.ack();
      if (seen.length === 2) setTimeout(() => q.close(), 10);
    }
    check.deepEqual(seen, ['a', 'b']);
    await pond.close();
  }],

  ['send with timeoutMs waits out Backpressure until an ack makes room', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t', { maxBacklog: 1 });
    const q = await pond.queue('t', { subscription: 's' });
    await pond.send('t', 'first');
    check.equal((await check.error(() => pond.send('t', 'second'))).name, 'Backpressure');
    const waiting = pond.send('t', 'second', { timeoutMs: 10_000 });
    check.ok(waiting instanceof Promise);
    const [d] = await q.receive();
    setTimeout(() => d.ack(), 20);
    check.equal((await waiting).offset, 1);
    check.equal((await check.error(() => pond.sendMany('t', ['third', 'fourth'], { timeoutMs: 30 }))).name, 'Backpressure');
    await pond.close();
  }],

  ['option names are checked; a typo is a TypeError that names the known options', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('t');
    const e = await check.error(() => pond.queue('t', { subscripton: 's' }));
    check.equal(e.name, 'TypeError');
    check.ok(/subscription/.test(e.message), e.message);
    check.equal((await check.error(() => pond.read('t', 0, { ofset: 1 }))).name, 'TypeError');
    check.equal((await check.error(() => pond.consumer({ group: 'g', topics: ['t'], timeout: 1 }))).name, 'TypeError');
    check.equal((await check.error(() => pond.queue('t', { subscription: 's', ackTimeoutMs: 0 }))).code, 'INVALID_ARGUMENT');
    check.equal((await check.error(() => pond.queue('t', { subscription: 's', retryBackoffMs: 5 }))).name, 'TypeError');
    check.equal((await check.error(() => pond.updateSubscription('t', 's', { maxDelivery: 1 }))).name, 'TypeError');
    await pond.close();
  }],

  ['queue settings are stored; updateSubscription changes them; null removes one', async (lp) => {
    const pond = lp.Pond.memory();
    await pond.createTopic('jobs');
    await (await pond.queue('jobs', { subscription: 'w', maxDeliveries: 2, retryBackoffMs: [100, 400] })).close();
    const bare = await pond.queue('jobs', 'w'); // just to look: changes nothing
    check.deepEqual(pond.describeSubscription('jobs', 'w').settings, {
      ackTimeoutMs: 30000,
      maxDeliveries: 2,
      deadLetterTopic: null,
      retryBackoffMs: [100, 400],
    });
    const e = await check.error(() => pond.queue('jobs', { subscription: 'w', maxDeliveries: 5 }));
    check.equal(e.name, 'InvalidArgument');
    check.ok(/max_deliveries = 2; this attach asks for 5/.test(e.message), e.message);
    const now = await pond.updateSubscription('jobs', 'w', { deadLetterTopic: 'jobs.dlq', maxDeliveries: null, retryBackoffMs: null });
    check.deepEqual(now, { ackTimeoutMs: 30000, maxDeliveries: null, deadLetterTopic: 'jobs.dlq', retryBackoffMs: null });
    check.ok(pond.topics().includes('jobs.dlq'));
    check.equal((await check.error(() => pond.updateSubscription('jobs', 'nope', { maxDeliveries: 1 }))).name, 'TopicNotFound');
    await bare.close();
    await pond.close();
  }],

  ['extend, delayMs and ttlMs, retry backoff and describeSubscription', async (lp) => {
    const clock = new lp.ManualClock(1_000_000);
    const pond = lp.Pond.memory({ clock });
    await pond.createTopic('jobs');
    const q = await pond.queue('jobs', { subscription: 'w', ackTimeoutMs: 1000, retryBackoffMs: [100, 100] });
    const later = await pond.send('jobs', 'later', { delayMs: 2000 });
    await pond.send('jobs', 'job');
    const [d, none] = await q.receive({ maxMessages: 10 });
    check.equal(text(d.record.value), 'job', 'the delayed record waits; the one behind it does not');
    check.equal(none, undefined);
    await pond.sendMany('jobs', ['soon gone'], { ttlMs: 500 });
    clock.advance(900);
    check.equal(await d.extend({ ackTimeoutMs: 5000 }), clock.nowMs() + 5000);
    clock.advance(1100);
    const info = pond.describeSubscription('jobs', 'w');
    check.deepEqual([info.backlog, info.inFlight, info.expired, info.parked], [3, 1, 0, 0]);
    check.equal(info.oldestUnackedAgeMs, 2000);
    const got = await q.receive({ maxMessages: 10 });
    check.deepEqual(got.map((g) => text(g.record.value)), ['later'], 'due now; the expired one is never delivered');
    check.equal(later.offset, got[0].record.offset);
    check.deepEqual(q.parked().map((p) => p.reason), ['expired']);
    await got[0].nack(); // the retry backoff: 100 ms
    check.deepEqual(await q.receive(), []);
    clock.advance(100);
    check.equal((await q.receive())[0].deliveryCount, 2);
    await d.ack();
    clock.advance(10_000);
    check.equal((await check.error(() => d.extend({ ackTimeoutMs: 1 }))).name, 'LeaseExpired');
    check.equal((await check.error(() => pond.send('jobs', 'x', { ttlMs: 0 }))).code, 'INVALID_ARGUMENT');
    await pond.close();
  }],
];
