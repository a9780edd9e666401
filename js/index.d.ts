// Type definitions of the API both JavaScript packages share (logpond for
// Node.js and logpond-web): everything but how a pond is opened, flushed
// and closed, which each package's index.d.ts adds to `Pond`. Hand-written;
// copied into each package at build time beside its `bytes.d.ts` (the
// package's byte types, and `Written`); checked by each package's `npm run
// typecheck`.

/// <reference lib="esnext.disposable" />

import type { BytesInput, RecordBytes, Written } from './bytes';

/**
 * What a call that changes the pond returns: in Node its result itself; in
 * browsers a Promise of it, which resolves once the change is in
 * IndexedDB (writes there are coordinated with the pond's other tabs).
 * `await` works in both.
 */
export type { Written };

/** Bytes a producer hands in: utf-8 for strings. They come back as `RecordBytes` (Buffer in Node, Uint8Array in browsers). */
export type Bytes = BytesInput;

/** Epoch milliseconds, as a number, a safe bigint or a `Date`. */
export type Timestamp = number | bigint | Date;

/** A partition number, offset or count: a number, or a safe bigint. */
export type Int = number | bigint;

/**
 * Headers: ordered `[name, value]` pairs (names may repeat), or a plain
 * object or a `Map` of name to value.
 */
export type HeadersInput =
  | ReadonlyArray<readonly [string, Bytes]>
  | { readonly [name: string]: Bytes }
  | ReadonlyMap<string, Bytes>;

/** Options of `createTopic`; absent or null options take the defaults. */
export interface TopicOptions {
  /** Number of partitions (default 1, at most 10,000). */
  partitions?: number | null;
  /** Delete old segments whose newest record is older than this (ms). */
  retentionMs?: number | null;
  /** Delete the oldest segments while the rest still hold this many bytes. */
  retentionBytes?: number | null;
  /** Delete the oldest segments while the rest still hold this many records. */
  retentionRecords?: number | null;
  /** Keep only the newest record per key (a null value deletes the key); every record needs a key. */
  compact?: boolean | null;
  /** How long compaction keeps a tombstone (ms; default one day). */
  deleteRetentionMs?: number | null;
  /** The largest record (key + value + headers) a producer may send (default 1 MiB). */
  maxRecordBytes?: number | null;
  /** Most unsettled records the topic's subscriptions may hold before sends get `Backpressure`. */
  maxBacklog?: number | null;
  /** Roll to a new segment past this size (bytes; default 64 MiB). */
  segmentBytes?: number | null;
  /** Roll to a new segment when the active one's first record is this old (ms; default 7 days). */
  segmentMs?: number | null;
  /**
   * Keep records only until every queue subscription (and every consumer
   * group with a committed offset) has settled them: whole segments below
   * that are freed. Time, size and record retention still apply.
   */
  retainUntilAcked?: boolean | null;
}

/** A topic's configuration as `describe` reports it (null: no limit). */
export interface TopicConfig {
  partitions: number;
  retentionMs: number | null;
  retentionBytes: number | null;
  retentionRecords: number | null;
  compact: boolean;
  deleteRetentionMs: number;
  maxRecordBytes: number;
  maxBacklog: number | null;
  segmentBytes: number;
  segmentMs: number;
  retainUntilAcked: boolean;
}

export interface PartitionInfo {
  partition: number;
  /** The first offset a read may ask for. */
  startOffset: number;
  /** The offset the next record will get. */
  endOffset: number;
  /** Bytes on storage. */
  bytes: number;
}

export interface TopicInfo {
  name: string;
  partitions: PartitionInfo[];
  config: TopicConfig;
}

/** A member of a consumer group, in any handle or process. */
export interface GroupMember {
  memberId: number;
  /** The partitions it consumes now, as `[topic, partition]`, sorted. */
  assignment: Array<[string, number]>;
}

/** Where a group stands in one partition. */
export interface GroupOffset {
  topic: string;
  partition: number;
  /** The committed offset (the next record to consume), or null. */
  committed: number | null;
  end: number;
  /** `end - committed` (from the partition's start when nothing is committed). */
  lag: number;
  /** The member consuming the partition now, or null. */
  consumer: number | null;
}

/** What `Pond.describeGroup` reports. */
export interface GroupInfo {
  group: string;
  generation: number;
  members: GroupMember[];
  /** One per partition the group committed to or holds, by topic and partition. */
  offsets: GroupOffset[];
}

/** A queue subscription's stored settings (see `QueueOptions`). */
export interface SubscriptionSettings {
  ackTimeoutMs: number;
  maxDeliveries: number | null;
  deadLetterTopic: string | null;
  /** `[initialMs, maxMs]`: a `nack()` without `delayMs` waits `initialMs * 2^(deliveryCount - 1)`, at most `maxMs`. */
  retryBackoffMs: [number, number] | null;
}

/** What `Pond.describeSubscription` reports. */
export interface SubscriptionInfo {
  topic: string;
  subscription: string;
  /** Records not yet acked (in flight, waiting, delayed and parked included). */
  backlog: number;
  /** Records leased to a consumer now, in any handle or process. */
  inFlight: number;
  /** Records sent to the dead-letter topic, ever. */
  deadLettered: number;
  /** Records kept after their last delivery (no dead-letter topic). */
  parked: number;
  /** Records whose `ttlMs` ran out before delivery, ever. */
  expired: number;
  /** Milliseconds since the oldest record neither acked nor parked was appended, or null. */
  oldestUnackedAgeMs: number | null;
  settings: SubscriptionSettings;
}

/** `Pond.updateSubscription`: an absent option stays; `null` removes an optional one. */
export interface SubscriptionUpdate {
  ackTimeoutMs?: number;
  maxDeliveries?: number | null;
  deadLetterTopic?: string | null;
  retryBackoffMs?: [number, number] | null;
}

/** When queues may deliver the records of one send (consumer groups see them at once). */
export interface ScheduleOptions {
  /** Queues deliver it no earlier than this long (ms) after it is appended (the pond's clock). */
  delayMs?: number | null;
  /** Queues never deliver it later than this long (ms) after it is appended: it is dead-lettered (reason `expired`) or parked. */
  ttlMs?: number | null;
}

export interface SendOptions extends ScheduleOptions {
  /** The record's key; records with one key land in one partition (Kafka's murmur2). */
  key?: Bytes | null;
  headers?: HeadersInput | null;
  /** An explicit partition; else by key, else one partition per call, in turn. */
  partition?: Int | null;
  /** The record's timestamp; the pond clock's time when absent. */
  timestampMs?: Timestamp | null;
}

/** One record of `sendMany` given as an object. */
export interface RecordInput extends Omit<SendOptions, 'delayMs' | 'ttlMs'> {
  /** The value; absent or null is a null value (a tombstone in a compacted topic). */
  value?: Bytes | null;
}

/** Where an appended record landed. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
}

/** A stored record, as reads return it. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: RecordBytes | null;
  value: RecordBytes | null;
  headers: Array<[string, RecordBytes]>;
}

export interface ReadOptions {
  /** The first offset to read (default: the partition's start offset). */
  offset?: Int | null;
  /** At most this many records (default 500). */
  maxRecords?: Int | null;
  /** About this many bytes of keys, values and headers (default 50 MiB); at least one record when any is there. */
  maxBytes?: Int | null;
}

/**
 * An embeddable event broker: what every pond does, whatever its storage.
 * Each package's `Pond` extends it with its factories, `flush` and `close`.
 */
export declare class Pond {
  protected constructor();

  /** Creates a topic. Throws `TopicExists`, `InvalidName` or `InvalidArgument`. */
  createTopic(name: string, options?: TopicOptions): Written<void>;

  /** The user topics, sorted. */
  topics(): string[];

  hasTopic(name: string): boolean;

  /** A topic's partitions and configuration. Throws `TopicNotFound`. */
  describe(name: string): TopicInfo;

  /** The consumer groups the pond knows, sorted. Joins none. */
  groups(): string[];

  /**
   * A consumer group's generation, members and their partitions, and per
   * partition its committed offset, end and lag — read without joining
   * the group (nothing rebalances).
   */
  describeGroup(group: string): GroupInfo;

  /** Deletes a topic and all its records. Throws `TopicNotFound`. */
  deleteTopic(name: string): Written<void>;

  /**
   * Appends one record and returns where it landed. `value` may be null.
   * Throws `TopicNotFound`, `RecordTooLarge`, `InvalidArgument`,
   * `Backpressure`. With `timeoutMs`, a send that meets `Backpressure`
   * waits (off the event loop) up to `timeoutMs` for room (an ack frees
   * it): it returns a Promise of the metadata, which rejects with
   * `Backpressure` when the time is up.
   */
  send(topic: string, value: Bytes | null, options: SendOptions & { timeoutMs: number }): Promise<RecordMetadata>;
  send(topic: string, value: Bytes | null, options?: SendOptions): Written<RecordMetadata>;

  /**
   * Appends records: those bound for one partition go in one atomic batch,
   * in order. Every record is checked before any is written. With
   * `timeoutMs`, waits out `Backpressure` as `send` does (a Promise).
   */
  sendMany(
    topic: string,
    records: ReadonlyArray<Bytes | RecordInput>,
    options: ScheduleOptions & { timeoutMs: number },
  ): Promise<RecordMetadata[]>;
  sendMany(topic: string, records: ReadonlyArray<Bytes | RecordInput>, options?: ScheduleOptions): Written<RecordMetadata[]>;

  /**
   * Reads records of one partition. Throws `OffsetOutOfRange` for an
   * offset outside `startOffset..=endOffset`.
   */
  read(topic: string, partition?: Int, options?: ReadOptions): LogRecord[];

  /** The first readable offset and the offset the next record will get. */
  offsets(topic: string, partition?: Int): { startOffset: number; endOffset: number };

  /** The first offset whose record's timestamp is >= `timestampMs`, or null when every record is older. */
  offsetForTime(topic: string, partition: Int, timestampMs: Timestamp): number | null;

  /** Makes every offset below `beforeOffset` unreadable (frees whole segments). */
  deleteRecords(topic: string, partition: Int, beforeOffset: Int): Written<void>;

  /** Runs time-based retention and compaction now (sends run them as they go). */
  maintain(): Written<void>;

  /** Whether `close()` was called. */
  readonly closed: boolean;

  /**
   * A consumer: joins a consumer group for some topics (a rebalance). The
   * group's members split the topics' partitions; each group sees every
   * record. Throws `InvalidArgument` (an empty group, a bad option value)
   * or `InvalidName`.
   */
  consumer(options: ConsumerOptions): Written<Consumer>;

  /**
   * A queue consumer of a subscription on `topic`, created when missing.
   * Consumers of one subscription compete for its records; every
   * subscription sees every record. Throws `TopicNotFound`,
   * `InvalidName` or `InvalidArgument`. A string is the subscription's
   * name, with the default settings.
   */
  queue(topic: string, options: QueueOptions | string): Written<Queue>;

  /** The subscriptions of a topic, sorted. */
  subscriptions(topic: string): string[];

  /** Deletes a subscription and its delivery state. Throws `TopicNotFound` when there is none. */
  deleteSubscription(topic: string, subscription: string): Written<void>;

  /**
   * A subscription's backlog, in-flight, dead-lettered, parked and expired
   * counts, the age of its oldest unacked record and its stored settings —
   * read without attaching to it. Throws `TopicNotFound`.
   */
  describeSubscription(topic: string, subscription: string): SubscriptionInfo;

  /**
   * Changes a subscription's stored settings; every consumer, in any
   * process, uses them from its next call. Returns the settings now
   * stored. Throws `TopicNotFound` or `InvalidArgument`.
   */
  updateSubscription(topic: string, subscription: string, options: SubscriptionUpdate): Written<SubscriptionSettings>;

  /** `using pond = ...` closes it at the end of the block. */
  [Symbol.dispose](): void;
  /** `await using pond = ...` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where a partition without a committed offset starts (also after its committed offset was deleted). */
export type AutoOffsetReset = 'latest' | 'earliest' | 'none';

/** How a group splits partitions between its members. */
export type Assignor = 'cooperative-sticky' | 'range' | 'round-robin';

export interface ConsumerOptions {
  /** The consumer group id (not empty). */
  group: string;
  /** The topics to read: a name or a list. Topics created later join the assignment on the next poll. */
  topics: string | readonly string[];
  /**
   * `'latest'` (default, as Kafka): only records sent from now on;
   * `'earliest'`: from the start of the log; `'none'`: `poll` throws
   * `OffsetOutOfRange`.
   */
  autoOffsetReset?: AutoOffsetReset | null;
  /**
   * Commit positions automatically (default true): on a poll once
   * `autoCommitIntervalMs` passed since the last commit (what earlier
   * polls returned counts as processed), before a partition is taken away
   * in a rebalance, and on close.
   */
  autoCommit?: boolean | null;
  /** How often auto-commit commits (ms; default 5000). */
  autoCommitIntervalMs?: number | null;
  /** A member that does not poll for this long is removed from the group (ms; default 10000). */
  sessionTimeoutMs?: number | null;
  /** Default `'cooperative-sticky'`; the group uses its oldest member's. */
  assignor?: Assignor | null;
}

export interface PollOptions {
  /** At most this many records (default 500). */
  maxRecords?: Int | null;
  /**
   * How long to wait for records when none is there (ms; default 0: do
   * not wait; `Infinity`: no limit). The wait runs off the event loop.
   */
  timeoutMs?: number | null;
}

/** A partition of a topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** An offset to commit: the next offset the group reads from the partition. */
export interface TopicPartitionOffset {
  topic: string;
  partition: Int;
  offset: Int;
}

/** A partition's lag: its end offset minus the consumer's position. */
export interface PartitionLag extends TopicPartition {
  lag: number;
}

/**
 * A member of a consumer group, made by `pond.consumer(options)`. `poll`
 * and `for await` wait off the event loop (Node: on the libuv thread pool;
 * browsers: on the pond's wake-ups); every other method is synchronous.
 *
 * `for await (const record of consumer)` hands out records one by one;
 * the loop ends when the consumer or its pond is closed. Positions (and so
 * `lag`, `commit()`, auto-commit and the hand-over commit of a rebalance)
 * count exactly the records the loop yielded. Leaving a loop with `break`
 * keeps the consumer open; the next `poll` or loop goes on right after
 * the last record yielded.
 */
export declare class Consumer implements AsyncIterable<LogRecord> {
  private constructor();
  /** The group id. */
  readonly group: string;
  /** The subscribed topics. */
  readonly topics: readonly string[];
  /** Whether this consumer (or its pond) is closed. */
  readonly closed: boolean;
  /** This member's id in its group (a member removed for a session timeout rejoins with a new one). */
  readonly memberId: number;
  /** The group's generation: it grows with every rebalance. */
  readonly generation: number;

  /**
   * Up to `maxRecords` records from the assigned partitions (a fair share
   * of each first), waiting up to `timeoutMs` for some to arrive. Rejects
   * with `OffsetOutOfRange` (reset `'none'`) or `Closed` (the consumer was
   * closed before records came).
   */
  poll(options?: PollOptions): Promise<LogRecord[]>;

  /** Records one at a time; ends when the consumer or its pond is closed. */
  [Symbol.asyncIterator](): AsyncIterableIterator<LogRecord>;

  /**
   * Commits offsets durably. With no argument: the current position of
   * every assigned partition. With a list: those next-offsets-to-read; every
   * partition must be assigned to this consumer, else nothing is committed
   * (`CommitFailed`, as after a session timeout took its partitions).
   */
  commit(offsets?: ReadonlyArray<TopicPartitionOffset>): Written<void>;

  /** The group's committed offset of a partition (assigned or not), or null. */
  committed(topic: string, partition?: Int): number | null;

  /** The next offset this consumer reads from an assigned partition. */
  position(topic: string, partition?: Int): number;

  /** Moves an assigned partition's position; one outside the log is reset by `autoOffsetReset` on the next poll. */
  seek(topic: string, partition: Int, offset: Int): Written<void>;

  /** Every assigned partition to its start offset. */
  seekToBeginning(): Written<void>;

  /** Every assigned partition to its end: only records sent from now on. */
  seekToEnd(): Written<void>;

  /** Every assigned partition to its first record with a timestamp >= `timestampMs` (or its end). */
  seekToTime(timestampMs: Timestamp): Written<void>;

  /** The assigned partitions, sorted by topic and partition. */
  assignment(): TopicPartition[];

  /** End offset minus position, per assigned partition, sorted. */
  lag(): PartitionLag[];
  /**
   * Moves past damaged batches (after a `Corruption` error from `poll`):
   * the skipped ranges, `toOffset` exclusive; their records are not delivered.
   */
  skipDamaged(): Written<SkippedRange[]>;

  /**
   * Leaves the group (a rebalance), committing first with auto-commit.
   * Ends `for await` loops and pending polls. Closing twice is harmless.
   */
  close(): Written<void>;

  /** `using consumer = pond.consumer(...)` closes it at the end of the block. */
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface QueueOptions {
  /** The subscription's name (rules as topic names). Consumers of one subscription compete for its records. */
  subscription: string;
  /**
   * How long a delivery is leased before it is delivered again (ms; default
   * 30000). This, `maxDeliveries`, `deadLetterTopic` and `retryBackoffMs`
   * are stored with the subscription when it is first attached: absent
   * means the stored value, and a value that differs from the stored one
   * throws `InvalidArgument` (change them with `pond.updateSubscription`).
   */
  ackTimeoutMs?: number | null;
  /** Deliveries after which a record that comes back is dead-lettered (or parked); default: no limit. */
  maxDeliveries?: number | null;
  /**
   * Where records past `maxDeliveries` go (created when missing), with
   * `logpond.dlq.*` headers; without one they are parked (see `parked()`).
   */
  deadLetterTopic?: string | null;
  /** `[initialMs, maxMs]`: a `nack()` without `delayMs` waits `initialMs * 2^(deliveryCount - 1)`, at most `maxMs`. */
  retryBackoffMs?: [number, number] | null;
  /** Unacknowledged deliveries this consumer may hold (default 100; this consumer's own, not stored): the prefetch window. */
  maxInFlight?: number | null;
  /** A new subscription starts at the topic's end instead of its start. */
  startAtEnd?: boolean | null;
}

export interface ReceiveOptions {
  /** At most this many deliveries (default 1). */
  maxMessages?: Int | null;
  /**
   * How long to wait for a delivery when none is due (ms; default 0: do
   * not wait; `Infinity`: no limit). The wait runs off the event loop and
   * ends early when a record arrives, an ack frees room, a nack delay ends
   * or a lease expires.
   */
  timeoutMs?: number | null;
}

export interface NackOptions {
  /** Deliverable again after this long (ms; default: the subscription's `retryBackoffMs`, or at once behind the records already waiting). */
  delayMs?: number | null;
  /** Why; a dead letter carries the last reason in its `logpond.dlq.reason` header (default `'nacked'`). */
  reason?: string | null;
}

/** A record leased to a queue consumer until acked, nacked, or its ack timeout passes. */
export declare class Delivery {
  private constructor();
  /** The record. */
  readonly record: LogRecord;
  /** 1 on the first delivery; every redelivery counts up (the count survives reopen). */
  readonly deliveryCount: number;
  /** The queue consumer that received it. */
  readonly queue: Queue;
  /** Whether `ack()`, `nack()` or `queue.ackMany` settled it through this object. */
  readonly done: boolean;
  /**
   * Settles it: it is never delivered again. Throws `LeaseExpired` when it
   * was delivered again (or settled) since; a late ack still settles it
   * while nobody else has taken it.
   */
  ack(): Written<void>;
  /** Returns it to the subscription, deliverable again after `delayMs`. Throws `LeaseExpired` as `ack`. */
  nack(options?: NackOptions): Written<void>;
  /**
   * Keeps it leased for `ackTimeoutMs` more from now (a long job). Returns
   * the new deadline (epoch ms). Throws `LeaseExpired` when the lease
   * already ended.
   */
  extend(options: { ackTimeoutMs: number }): Written<number>;
}

/** A record past `maxDeliveries` kept in a subscription without a dead-letter topic. */
export interface ParkedRecord {
  partition: number;
  offset: number;
  deliveryCount: number;
  reason: string;
}

export interface SubscribeOptions {
  /** How many handlers run at once (default 1). */
  concurrency?: number | null;
  /**
   * A failed handler's delivery is deliverable again after this long (ms).
   * Default: the subscription's `retryBackoffMs`, or with none a backoff of
   * 1 s, doubling with each delivery, at most 60 s.
   */
  nackDelayMs?: number | null;
  /**
   * Called with a handler's failure and with failures to settle a
   * delivery (e.g. `LeaseExpired` for a handler that outlived its ack
   * timeout) — `delivery` is set — and with a receive failure that ends
   * the subscription (`delivery` is null).
   * Default: a process warning (Node), `reportError` (browsers).
   */
  onError?: ((error: unknown, delivery: Delivery | null) => void) | null;
}

/** Push delivery from a queue consumer to a handler; made by `queue.subscribe`. */
export declare class Subscription {
  private constructor();
  /** The queue consumer it receives from. */
  readonly queue: Queue;
  /** True until it stops (by `stop()`, or by its queue consumer or pond closing). */
  readonly running: boolean;
  /** Whether it stopped (`!running`). */
  readonly stopped: boolean;
  /** Deliveries whose handler resolved (and were acked). */
  readonly handled: number;
  /** Deliveries whose handler rejected or threw (and were nacked). */
  readonly failed: number;
  /** Resolves once it has stopped and every handler it started has finished; never rejects. */
  readonly done: Promise<void>;
  /** Stops receiving; resolves once the running handlers have finished and their deliveries are settled. */
  stop(): Promise<void>;
  /** `await using sub = queue.subscribe(...)` stops it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A consumer of a queue subscription, made by `pond.queue(topic, options)`.
 * `receive` and `for await` wait off the event loop; `subscribe` pushes
 * deliveries to a handler; every other method is synchronous.
 */
export declare class Queue implements AsyncIterable<Delivery> {
  private constructor();
  /** The topic. */
  readonly topic: string;
  /** The subscription's name. */
  readonly subscription: string;
  /** Whether this queue consumer (or its pond) is closed. */
  readonly closed: boolean;

  /**
   * Up to `maxMessages` deliveries, each leased for the ack timeout:
   * redeliveries that are due first, then new records. Fewer (or none)
   * when `maxInFlight` deliveries are unacknowledged. Rejects with `Closed`
   * when the queue consumer is closed before one comes.
   */
  receive(options?: ReceiveOptions): Promise<Delivery[]>;

  /** Deliveries one at a time (each still to ack or nack); ends when the queue consumer or its pond is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<Delivery, void, undefined>;

  /** Acks deliveries of this queue consumer in one write: all, or none (`LeaseExpired`). */
  ackMany(deliveries: Iterable<Delivery>): Written<void>;

  /**
   * Push delivery: calls `handler` for every delivery, up to `concurrency`
   * at a time. A handler that resolves acks the delivery; one that rejects
   * nacks it with the error's message as reason. `await sub.stop()` waits
   * for running handlers.
   */
  subscribe(handler: (delivery: Delivery) => unknown, options?: SubscribeOptions): Subscription;

  /** Unsettled records of the subscription (in flight and parked included). */
  backlog(): number;

  /** Records of the subscription leased to any of its consumers now. */
  inFlight(): number;

  /** Records past `maxDeliveries` kept because there is no dead-letter topic. */
  parked(): ParkedRecord[];
  /**
   * Moves the subscription past damaged batches (after a `Corruption` error
   * from `receive`): their records are settled undelivered.
   */
  skipDamaged(): Written<Omit<SkippedRange, 'topic'>[]>;

  /**
   * Detaches this consumer: its leases become deliverable again at once
   * (their counts kept). Ends `for await` loops, pending receives and
   * subscriptions. Closing twice is harmless.
   */
  close(): Written<void>;

  /** `using queue = pond.queue(...)` closes it at the end of the block. */
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A clock that moves only when told to: give it to `Pond.memory({ clock })`
 * or `Pond.open(path, { clock })` to drive retention, ack timeouts, nack
 * delays, session timeouts and auto-commit intervals from a test.
 */
export declare class ManualClock {
  /** @param startMs epoch milliseconds (default 0) */
  constructor(startMs?: Timestamp);
  /** Moves the clock by `ms` (backwards when negative). */
  advance(ms: Int): void;
  /** Sets the clock to `ms` epoch milliseconds. */
  set(ms: Timestamp): void;
  /** The clock's time in epoch milliseconds. */
  nowMs(): number;
}

/** The codes logpond errors carry. */
export type ErrorCode =
  | 'TOPIC_EXISTS'
  | 'TOPIC_NOT_FOUND'
  | 'INVALID_NAME'
  | 'INVALID_ARGUMENT'
  | 'RECORD_TOO_LARGE'
  | 'BACKPRESSURE'
  | 'OFFSET_OUT_OF_RANGE'
  | 'CORRUPTION'
  | 'POND_LOCKED'
  | 'CLOSED'
  | 'COMMIT_FAILED'
  | 'LEASE_EXPIRED'
  | 'IO'
  | 'INTERNAL';

/** The base class of every error logpond throws on purpose (wrong argument types are `TypeError`). */
export declare class LogpondError extends Error {
  constructor(message: string, code?: string, options?: ErrorOptions);
  /** A stable code, e.g. `'TOPIC_EXISTS'`. */
  readonly code: ErrorCode | (string & {});
}
/** `createTopic` of a name that exists. */
export declare class TopicExists extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'TOPIC_EXISTS';
}
/** A topic that does not exist. */
export declare class TopicNotFound extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'TOPIC_NOT_FOUND';
}
/** A topic name outside Kafka's rules (1 to 249 of `[A-Za-z0-9._-]`, not `.`/`..`, not `__...`). */
export declare class InvalidName extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'INVALID_NAME';
}
/** An argument of the right type but a wrong value (a negative partition, an offset beyond 2^53, ...). */
export declare class InvalidArgument extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'INVALID_ARGUMENT';
}
/** A record bigger than the topic's `maxRecordBytes`. */
export declare class RecordTooLarge extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'RECORD_TOO_LARGE';
}
/** A send that would take a subscription of the topic past its `maxBacklog` unsettled records (nothing is written). */
export declare class Backpressure extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'BACKPRESSURE';
}
/** A read or delete at an offset outside the partition. */
export declare class OffsetOutOfRange extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'OFFSET_OUT_OF_RANGE';
}
/** Damaged data that recovery cannot repair. */
export declare class Corruption extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'CORRUPTION';
}
/** The directory is open in another handle (this process or another). */
export declare class PondLocked extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'POND_LOCKED';
}
/** A call on a closed pond, consumer or queue consumer. */
export declare class Closed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'CLOSED';
}
/** A consumer's offset commit was refused: a partition is not (or no longer) assigned to it, e.g. after a session timeout. */
export declare class CommitFailed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'COMMIT_FAILED';
}
/** An ack or nack of a delivery that was delivered again (or settled) since. */
export declare class LeaseExpired extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'LEASE_EXPIRED';
}
/** An operating-system I/O failure. */
export declare class IoError extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'IO';
}

/** Offsets skipped past a damaged batch; `toOffset` is exclusive. */
export interface SkippedRange {
  topic: string;
  partition: number;
  fromOffset: number;
  toOffset: number;
}
