// Typed usage of the ESM entry, checked by `tsc --noEmit` (npm run typecheck);
// never run. The @ts-expect-error lines must stay errors.
import logpond, {
  Pond,
  ManualClock,
  LogpondError,
  TopicExists,
  CommitFailed,
  LeaseExpired,
  Consumer,
  Queue,
  Delivery,
  Subscription,
  type ConsumerOptions,
  type TopicPartition,
  type PartitionLag,
  type SkippedRange,
  type ParkedRecord,
  type SubscriptionInfo,
  type SubscriptionSettings,
  type LogRecord,
  type RecordMetadata,
  type TopicInfo,
  type ErrorCode,
} from 'logpond';

const clock = new ManualClock(Date.now());
clock.advance(1500);
clock.set(new Date());
const now: number = clock.nowMs();

const mem: Pond = Pond.memory({ clock });
const pond = Pond.open('data/pond', { durability: 'fsync', clock });
Pond.open(new URL('file:///tmp/pond'));
pond.createTopic('orders', {
  partitions: 3,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: null,
  retentionRecords: 1_000_000,
  compact: false,
  maxRecordBytes: 1 << 20,
  maxBacklog: 10_000,
  segmentBytes: 64 << 20,
  segmentMs: 3_600_000,
});
const names: string[] = pond.topics();
const info: TopicInfo = pond.describe('orders');
const end: number = info.partitions[0]!.endOffset;
const retention: number | null = info.config.retentionMs;

const md: RecordMetadata = pond.send('orders', Buffer.from('v'), {
  key: 'customer-7',
  headers: [['trace', 'abc'], ['bin', new Uint8Array([1])]],
  partition: 0,
  timestampMs: Date.now(),
});
pond.send('orders', null, { key: 'k' });
pond.send('orders', 'text', { headers: { a: 'b' } });
pond.send('orders', new Uint8Array(4), { headers: new Map([['m', 'v']]), timestampMs: new Date() });
const many: RecordMetadata[] = pond.sendMany('orders', [
  'a',
  Buffer.from('b'),
  { key: 'k', value: 'c', headers: [['h', 'v']] },
  { value: null, partition: 1 },
]);

const records: LogRecord[] = pond.read('orders', md.partition, { offset: md.offset, maxRecords: 500, maxBytes: 1 << 20 });
for (const r of records) {
  const value: Buffer | null = r.value;
  const key: Buffer | null = r.key;
  const headers: Array<[string, Buffer]> = r.headers;
  const ts: number = r.timestampMs;
  void [value, key, headers, ts];
}
const offset: number | null = pond.offsetForTime('orders', 0, Date.now() - 60_000);
const { startOffset, endOffset } = pond.offsets('orders', 0);
pond.deleteRecords('orders', 0, 10);
pond.maintain();
pond.flush();
const closed: boolean = pond.closed;
pond.close();

try {
  mem.createTopic('orders');
} catch (e) {
  if (e instanceof TopicExists) {
    const code: 'TOPIC_EXISTS' = e.code;
    void code;
  } else if (e instanceof LogpondError) {
    const code: ErrorCode | string = e.code;
    void code;
  }
}
const viaDefault: Pond = logpond.Pond.memory();

// @ts-expect-error durability is 'os' or 'fsync'
Pond.open('p', { durability: 'always' });
// @ts-expect-error values are bytes or strings
pond.send('orders', 42);
// @ts-expect-error the constructor is private: use Pond.open / Pond.memory
new Pond();
// @ts-expect-error options have fixed names
pond.createTopic('x', { retention: 5 });
// @ts-expect-error records come back as Buffers, not strings
const wrong: string = records[0]!.value;

void [now, names, end, retention, many, offset, startOffset, endOffset, closed, viaDefault, wrong];

// Consumer groups.
const options: ConsumerOptions = {
  group: 'billing',
  topics: ['orders'],
  autoOffsetReset: 'earliest',
  autoCommit: true,
  autoCommitIntervalMs: 5000,
  sessionTimeoutMs: 10_000,
  assignor: 'cooperative-sticky',
};
const consumer: Consumer = mem.consumer(options);
mem.consumer({ group: 'audit', topics: 'orders', assignor: 'range' }).close();
const polled: LogRecord[] = await consumer.poll({ maxRecords: 500, timeoutMs: 1000 });
await consumer.poll();
await consumer.poll({ timeoutMs: Infinity });
for await (const record of consumer) {
  const t: string = record.topic;
  void t;
  break;
}
consumer.commit();
consumer.commit([{ topic: 'orders', partition: 0, offset: 42 }]);
const committed: number | null = consumer.committed('orders', 0);
const position: number = consumer.position('orders', 0);
consumer.seek('orders', 0, 10);
consumer.seekToBeginning();
consumer.seekToEnd();
consumer.seekToTime(new Date());
const assigned: TopicPartition[] = consumer.assignment();
const lag: PartitionLag[] = consumer.lag();
const skipped: SkippedRange[] = consumer.skipDamaged();
const skippedFrom: number = skipped[0]!.fromOffset + skipped[0]!.toOffset;
const member: number = consumer.memberId + consumer.generation;
const group: string = consumer.group;
try {
  consumer.commit();
} catch (e) {
  if (e instanceof CommitFailed) console.log(e.code);
}
consumer.close();
{
  using scoped = mem.consumer({ group: 'g', topics: ['orders'] });
  void scoped;
}

// Queues.
const q: Queue = mem.queue('orders', {
  subscription: 'workers',
  ackTimeoutMs: 30_000,
  maxDeliveries: 5,
  deadLetterTopic: 'orders.dlq',
  maxInFlight: 100,
  startAtEnd: false,
});
const [d] = await q.receive({ maxMessages: 1, timeoutMs: 0 });
if (d) {
  const rec: LogRecord = d.record;
  const count: number = d.deliveryCount;
  const done: boolean = d.done;
  const same: Queue = d.queue;
  d.ack();
  d.nack({ delayMs: 1000, reason: 'busy' });
  d.nack();
  const deadline: number = d.extend({ ackTimeoutMs: 60_000 });
  void [rec, count, done, same, deadline];
}
mem.queue('orders', { subscription: 'retrying', retryBackoffMs: [1000, 60_000] });
const subInfo: SubscriptionInfo = mem.describeSubscription('orders', 'workers');
const age: number | null = subInfo.oldestUnackedAgeMs;
const stored: SubscriptionSettings = mem.updateSubscription('orders', 'workers', { maxDeliveries: null, ackTimeoutMs: 5000 });
const counts: number = subInfo.backlog + subInfo.inFlight + subInfo.deadLettered + subInfo.parked + subInfo.expired;
mem.send('orders', 'later', { delayMs: 5000, ttlMs: 60_000 });
mem.sendMany('orders', ['a', 'b'], { ttlMs: 1000 });
void [age, stored.retryBackoffMs, counts];
// @ts-expect-error a retry backoff is [initialMs, maxMs]
mem.queue('orders', { subscription: 'x', retryBackoffMs: 1000 });
// @ts-expect-error extend needs the new lease length
d?.extend();
const batch: Delivery[] = await q.receive({ maxMessages: 100, timeoutMs: 50 });
q.ackMany(batch);
for await (const delivery of q) {
  try {
    delivery.ack();
  } catch (e) {
    if (e instanceof LeaseExpired) delivery.nack();
  }
  break;
}
const sub: Subscription = q.subscribe(
  async (delivery) => {
    void delivery.record.value;
  },
  { concurrency: 3, nackDelayMs: 100, onError: (err, which) => console.error(err, which?.record.offset) },
);
q.subscribe((delivery) => delivery.ack());
const subDone: Promise<void> = sub.done;
const handled: number = sub.handled + sub.failed;
await sub.stop();
{
  await using scopedSub = q.subscribe(async () => {});
  void scopedSub;
}
const backlog: number = q.backlog() + q.inFlight() + mem.queue('orders', 'workers').backlog();
const queueSkipped: number = q.skipDamaged().map((r) => r.partition + r.toOffset - r.fromOffset).length;
Pond.open('p', { groupAccess: true });
Pond.open('p', { readOnly: true });
const waited: Promise<RecordMetadata> = mem.send('orders', 'v', { key: 'k', timeoutMs: 1000 });
const waitedMany: Promise<RecordMetadata[]> = mem.sendMany('orders', ['a'], { timeoutMs: 1000 });
const notWaited: RecordMetadata = mem.send('orders', 'v', { key: 'k' });
const parked: ParkedRecord[] = q.parked();
const subs: string[] = mem.subscriptions('orders');
mem.deleteSubscription('orders', 'workers');
q.close();
mem.createTopic('jobs', { retainUntilAcked: true, maxBacklog: 1000 });
const keeps: boolean = mem.describe('jobs').config.retainUntilAcked;

// @ts-expect-error autoOffsetReset is 'latest', 'earliest' or 'none'
mem.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'smallest' });
// @ts-expect-error a consumer needs a group
mem.consumer({ topics: ['t'] });
// @ts-expect-error a queue needs a subscription
mem.queue('t', { ackTimeoutMs: 5 });
// @ts-expect-error poll is asynchronous
const notAwaited: LogRecord[] = consumer.poll();
// @ts-expect-error a nack delay is a number of milliseconds
d?.nack({ delayMs: '5s' });

void [waited, waitedMany, notWaited, skippedFrom, queueSkipped, polled, committed, position, assigned, lag, member, group, subDone, handled, backlog, parked, subs, keeps, notAwaited];
