// Typed usage of the ESM entry, checked by `tsc --noEmit` (npm run typecheck);
// never run. The @ts-expect-error lines must stay errors.
import logpond, {
  Pond,
  ManualClock,
  LogpondError,
  TopicExists,
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
