// A typed usage file: `tsc --noEmit` checks index.d.ts against it (never run).
import {
  Pond,
  ManualClock,
  LogpondError,
  TopicExists,
  LeaseExpired,
  IoError,
  type LogRecord,
  type Delivery,
  type RecordMetadata,
  type TopicInfo,
  type SubscriptionInfo,
  type PondFile,
} from 'logpond-web';

export async function usage(): Promise<void> {
  const clock = new ManualClock(0);
  clock.advance(1500);
  clock.set(new Date());
  const now: number = clock.nowMs();

  const memory: Pond = Pond.memory({ clock });
  const pond: Pond = await Pond.openIndexedDb('app', {
    flushIntervalMs: 50,
    durability: 'relaxed',
    lockTimeoutMs: 2000,
    onFlushError: (e: IoError) => console.warn(e.code, e.message),
  });
  await pond.createTopic('orders', { partitions: 3, retentionMs: 86_400_000, compact: false, maxBacklog: null });
  const names: string[] = pond.topics();
  const info: TopicInfo = pond.describe('orders');
  const end: number = info.partitions[0].endOffset + info.config.partitions;

  const md: RecordMetadata = await pond.send('orders', 'v', { key: new Uint8Array([1]), headers: [['h', '1']], timestampMs: now });
  await pond.send('orders', null, { key: 'k', headers: { h: 'x' }, partition: 1n });
  const mds: RecordMetadata[] = await pond.sendMany('orders', ['a', new Uint8Array(2), { key: 'k', value: 'c', headers: new Map([['h', 'v']]) }]);
  const waited: Promise<RecordMetadata> = pond.send('orders', 'v', { timeoutMs: 100 });
  const waitedMany: Promise<RecordMetadata[]> = pond.sendMany('orders', ['a'], { timeoutMs: 100 });
  void [waited, waitedMany];
  const records: LogRecord[] = pond.read('orders', md.partition, { offset: 0, maxRecords: 100 });
  const value: Uint8Array | null = records[0].value;
  const headers: Array<[string, Uint8Array]> = records[0].headers;
  const at: number | null = pond.offsetForTime('orders', 0, new Date(0));
  await pond.deleteRecords('orders', 0, 1);
  const { startOffset, endOffset } = pond.offsets('orders', 0);

  const c = await pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: true, sessionTimeoutMs: 10_000, assignor: 'range' });
  const polled: LogRecord[] = await c.poll({ maxRecords: 500, timeoutMs: 1000 });
  for await (const r of c) {
    const o: number = r.offset;
    if (o > 10) break;
  }
  await c.commit();
  await c.commit([{ topic: 'orders', partition: 0, offset: 42 }]);
  const committed: number | null = c.committed('orders', 0);
  const position: number = c.position('orders', 0);
  await c.seek('orders', 0, 10);
  await c.seekToBeginning();
  await c.seekToEnd();
  await c.seekToTime(Date.now());
  const assigned: Array<{ topic: string; partition: number }> = c.assignment();
  const lag: number = c.lag().reduce((n, l) => n + l.lag, 0);
  const member: number = c.memberId + c.generation; // properties, as in Node
  void member;
  await c.close();

  const q = await pond.queue('orders', { subscription: 'workers', ackTimeoutMs: 30_000, maxDeliveries: 5, deadLetterTopic: 'orders.dlq', maxInFlight: 100 });
  const [d]: Delivery[] = await q.receive({ maxMessages: 1, timeoutMs: 0 });
  if (d !== undefined) {
    const count: number = d.deliveryCount;
    const rec: LogRecord = d.record;
    await d.ack();
    await d.nack({ delayMs: 1000, reason: 'later' });
    const deadline: number = await d.extend({ ackTimeoutMs: 60_000 });
    void count;
    void rec;
    void deadline;
  }
  const subInfo: SubscriptionInfo = pond.describeSubscription('orders', 'workers');
  const settings = await pond.updateSubscription('orders', 'workers', { retryBackoffMs: [500, 30_000], deadLetterTopic: null });
  await pond.send('orders', 'later', { delayMs: 5000, ttlMs: 60_000 });
  void [subInfo.oldestUnackedAgeMs, settings.maxDeliveries];
  for await (const delivery of q) {
    await delivery.ack();
    break;
  }
  await q.ackMany(await (await pond.queue('orders', 'shorthand')).receive({ maxMessages: 10 }));
  const sub = q.subscribe(async (delivery) => {
    await Promise.resolve(delivery.record.value);
  }, { concurrency: 4, onError: (e) => console.error(e) });
  await sub.stop();
  const backlog: number = q.backlog() + q.inFlight() + q.parked().length;
  await q.close();

  // A write is a Promise in browsers: its metadata comes when it is in IndexedDB.
  // @ts-expect-error: not the metadata itself
  const notYet: RecordMetadata = pond.send('orders', 'v');
  void notYet;
  await pond.flush();
  const files: PondFile[] = pond.exportFiles();
  const copy: Pond = await Pond.importFiles(files, { indexedDb: 'copy', replace: true });
  const inMemory: Pond = await Pond.importFiles(files);
  const bytes: number = pond.memoryBytes();
  const err: IoError | null = pond.lastFlushError;
  await pond.close();
  await Pond.deleteIndexedDb('copy');

  try {
    await memory.createTopic('orders');
  } catch (e) {
    if (e instanceof TopicExists) {
      const code: 'TOPIC_EXISTS' = e.code;
      void code;
    } else if (e instanceof LeaseExpired || e instanceof LogpondError) {
      const code: string = e.code;
      void code;
    }
  }
  void [names, end, mds, value, headers, at, startOffset, endOffset, polled, committed, position, assigned, lag, backlog, copy, inMemory, bytes, err];
}

// Type errors that must stay errors.
// @ts-expect-error: values are bytes or strings
void Pond.memory().send('t', 42);
// @ts-expect-error: the durability hint is one of three
void Pond.openIndexedDb('x', { durability: 'fsync' });
// @ts-expect-error: a queue needs a subscription
void Pond.memory().queue('t', {});
