// Type definitions for logpond-web (browsers). Hand-written; checked by
// `npm run typecheck` against test/usage.ts.

/** Bytes a producer hands in: utf-8 for strings. They come back as `Uint8Array`. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Epoch milliseconds, as a number, a safe bigint or a `Date`. */
export type Timestamp = number | bigint | Date;

/** A partition number, offset or count: a number, or a safe bigint. */
export type Int = number | bigint;

/** Headers: ordered `[name, value]` pairs (names may repeat), or a plain object or a `Map`. */
export type HeadersInput =
  | ReadonlyArray<readonly [string, Bytes]>
  | { readonly [name: string]: Bytes }
  | ReadonlyMap<string, Bytes>;

/**
 * IndexedDB's transaction durability hint, used for every flush:
 * - `'strict'`: a flush resolves once the browser has the data on stable
 *   storage; survives an OS crash or power loss. Slowest.
 * - `'relaxed'`: a flush resolves once the data is handed to the OS;
 *   survives a tab or browser crash, not an OS crash or power loss.
 * - `'default'` (default): the browser's choice (current Chromium and
 *   Firefox treat it as relaxed).
 */
export type Durability = 'default' | 'strict' | 'relaxed';

export interface MemoryOptions {
  /** Time for record timestamps, retention and timeouts; the wall clock (`Date.now()`) by default. */
  clock?: ManualClock;
}

export interface IndexedDbOptions {
  /**
   * Changes are written back to IndexedDB at most this long after they are
   * made (ms; default 50). `Infinity`: only `flush()`, `close()` and leaving
   * the page write them.
   */
  flushIntervalMs?: number;
  /** IndexedDB's durability hint for flushes (default `'default'`). */
  durability?: Durability;
  /** Time for record timestamps, retention and timeouts; the wall clock by default. */
  clock?: ManualClock;
  /** How long to wait for another tab or worker to close the pond before `PondLocked` (ms; default 1000). */
  lockTimeoutMs?: number;
  /** Called when an automatic flush fails (the changes stay queued; it is retried). Default: `reportError`. */
  onFlushError?: (error: IoError) => void;
}

export interface ImportOptions extends IndexedDbOptions {
  /** Import into the IndexedDB pond of this name (else the pond is in memory). */
  indexedDb?: string;
  /** Overwrite the IndexedDB pond if it holds anything (default false: `InvalidArgument`). */
  replace?: boolean;
}

/** A file of a pond: `name` is its `/`-separated path in a pond directory. */
export interface PondFile {
  name: string;
  bytes: Uint8Array;
}

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
  /** Keep records only until every subscription has acked them. */
  retainUntilAcked?: boolean | null;
  /** Roll to a new segment past this size (bytes; default 64 MiB). */
  segmentBytes?: number | null;
  /** Roll to a new segment when the active one's first record is this old (ms; default 7 days). */
  segmentMs?: number | null;
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
  retainUntilAcked: boolean;
  segmentBytes: number;
  segmentMs: number;
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

export interface SendOptions {
  /** The record's key; records with one key land in one partition (Kafka's murmur2). */
  key?: Bytes | null;
  headers?: HeadersInput | null;
  /** An explicit partition; else by key, else one partition per call, in turn. */
  partition?: Int | null;
  /** The record's timestamp; the pond clock's time when absent. */
  timestampMs?: Timestamp | null;
}

/** One record of `sendMany` given as an object. */
export interface RecordInput extends SendOptions {
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

/** A stored record. Keys and values are views of one buffer per read. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Array<[string, Uint8Array]>;
}

export interface ReadOptions {
  /** The first offset to read (default: the partition's start offset). */
  offset?: Int | null;
  /** At most this many records (default 500). */
  maxRecords?: Int | null;
  /** About this many bytes of keys, values and headers (default 50 MiB); at least one record when any is there. */
  maxBytes?: Int | null;
}

export interface ConsumerOptions {
  /** The consumer group id. */
  group: string;
  /** The topics to read (a single name is accepted too). */
  topics: readonly string[] | string;
  /** Where to start without a committed offset: `'latest'` (default), `'earliest'`, or `'none'` (`OffsetOutOfRange`). */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  /** Commit positions on poll every `autoCommitIntervalMs`, before a partition is revoked, and on close (default true). */
  autoCommit?: boolean;
  /** ms (default 5000). */
  autoCommitIntervalMs?: number;
  /** A member that does not poll for this long leaves the group (ms; default 10000). A waiting poll keeps it in. */
  sessionTimeoutMs?: number;
  /** How the group splits partitions (default `'cooperative-sticky'`). */
  assignor?: 'cooperative-sticky' | 'range' | 'round-robin';
}

export interface PollOptions {
  /** At most this many records (default 500). */
  maxRecords?: number;
  /** Wait this long for a record (ms; default 0: do not wait; `Infinity`: until one comes or the consumer closes). */
  timeoutMs?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read. */
  offset: number;
}

export interface PartitionLag extends TopicPartition {
  /** End offset minus position. */
  lag: number;
}

export interface QueueOptions {
  /** The subscription (created at the topic's start if missing). */
  subscription: string;
  /** How long a delivery is leased before it is redelivered (ms; default 30000). */
  ackTimeoutMs?: number;
  /** Deliveries after which a record is dead-lettered (or parked); default unlimited. */
  maxDeliveries?: number | null;
  /** Where dead letters go (created if missing); without one they are parked (`parked()`). */
  deadLetterTopic?: string | null;
  /** Unacked deliveries this consumer may hold (default 100). */
  maxInFlight?: number;
  /** A new subscription starts at the end of the topic instead of its start. */
  startAtEnd?: boolean;
}

export interface ReceiveOptions {
  /** At most this many deliveries (default 1). */
  maxMessages?: number;
  /** Wait this long for a delivery (ms; default 0; `Infinity`: until one comes or the queue closes). */
  timeoutMs?: number;
}

export interface NackOptions {
  /** Deliverable again after this long (ms; default 0). */
  delayMs?: number;
  /** Why; a dead letter carries the last reason. */
  reason?: string;
}

export interface SubscribeOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Errors of acks and nacks (a lease that ran out). Default: `reportError`. */
  onError?: (error: unknown) => void;
}

export interface ParkedRecord {
  partition: number;
  offset: number;
  deliveryCount: number;
  reason: string;
}

/**
 * An embeddable event broker in a tab or worker. Get one with
 * `Pond.memory()`, `await Pond.openIndexedDb(name)` or
 * `await Pond.importFiles(files)`. Every method is synchronous except
 * `flush`, `close` and the waits of consumers and queues.
 */
export declare class Pond {
  private constructor();

  /** A pond in memory: nothing is kept after the page goes (unless exported). */
  static memory(options?: MemoryOptions): Pond;

  /**
   * Opens (creating if needed) the pond kept in IndexedDB under `name`
   * (database `logpond:<name>`), loading it into memory. One tab or worker
   * at a time may hold it open (else `PondLocked`).
   */
  static openIndexedDb(name: string, options?: IndexedDbOptions): Promise<Pond>;

  /** A pond holding `files` (as `exportFiles()` gives them, or read from a pond directory). */
  static importFiles(files: Iterable<{ name: string; bytes: Uint8Array | ArrayBuffer }>, options?: ImportOptions): Promise<Pond>;

  /** Deletes the IndexedDB pond `name` (it must not be open). */
  static deleteIndexedDb(name: string, options?: { lockTimeoutMs?: number }): Promise<void>;

  /** Creates a topic. Throws `TopicExists`, `InvalidName` or `InvalidArgument`. */
  createTopic(name: string, options?: TopicOptions): void;
  /** The user topics, sorted. */
  topics(): string[];
  hasTopic(name: string): boolean;
  /** A topic's partitions and configuration. Throws `TopicNotFound`. */
  describe(name: string): TopicInfo;
  /** Deletes a topic, its records, committed offsets and subscriptions. */
  deleteTopic(name: string): void;

  /**
   * Appends one record and returns where it landed. With `timeoutMs`, a
   * send that meets `Backpressure` waits up to `timeoutMs` for room (an ack
   * in this tab frees it): it returns a Promise of the metadata, which
   * rejects with `Backpressure` when the time is up.
   */
  send(topic: string, value: Bytes | null, options: SendOptions & { timeoutMs: number }): Promise<RecordMetadata>;
  send(topic: string, value: Bytes | null, options?: SendOptions): RecordMetadata;
  /**
   * Appends records: those bound for one partition go in one atomic batch,
   * in order; all are checked first. With `timeoutMs`, waits out
   * `Backpressure` as `send` does (a Promise).
   */
  sendMany(
    topic: string,
    records: ReadonlyArray<Bytes | RecordInput>,
    options: { timeoutMs: number },
  ): Promise<RecordMetadata[]>;
  sendMany(topic: string, records: ReadonlyArray<Bytes | RecordInput>): RecordMetadata[];
  /** Reads records of one partition. Throws `OffsetOutOfRange` outside `startOffset..=endOffset`. */
  read(topic: string, partition?: Int, options?: ReadOptions): LogRecord[];
  /** The first readable offset and the offset the next record will get. */
  offsets(topic: string, partition?: Int): { startOffset: number; endOffset: number };
  /** The first offset whose record's timestamp is >= `timestampMs`, or null. */
  offsetForTime(topic: string, partition: Int, timestampMs: Timestamp): number | null;
  /** Makes every offset below `beforeOffset` unreadable (frees whole segments). */
  deleteRecords(topic: string, partition: Int, beforeOffset: Int): void;
  /** Runs time-based retention and compaction now (sends run them as they go). */
  maintain(): void;

  /** A member of a consumer group; joins the group now. */
  consumer(options: ConsumerOptions): Consumer;
  /** A consumer of a queue subscription of `topic`. */
  queue(topic: string, options: QueueOptions): Queue;
  /** The subscriptions of a topic, sorted. */
  subscriptions(topic: string): string[];
  deleteSubscription(topic: string, subscription: string): void;

  /**
   * Resolves once every change so far (sends, commits, acks) is in
   * IndexedDB, written in one transaction. Rejects with `IoError` when
   * IndexedDB refuses (quota exceeded); the changes stay queued for the
   * next flush. Nothing to do for a memory pond.
   */
  flush(): Promise<void>;
  /**
   * Closes the pond now (later calls throw `Closed`; waiting polls and
   * receives resolve with `[]`); the promise resolves once the last changes
   * are in IndexedDB and the pond's lock is released.
   */
  close(): Promise<void>;
  readonly closed: boolean;
  /** The IndexedDB pond's name (null in memory). */
  readonly name: string | null;
  /** The error of the last flush if it failed, until one succeeds. */
  readonly lastFlushError: IoError | null;
  /** Bytes the pond holds in memory (an IndexedDB pond mirrors all of its files; retention bounds them). */
  memoryBytes(): number;
  /** Every file, as a file pond holds them in its directory. */
  exportFiles(): PondFile[];
}

/** A member of a consumer group. */
export declare class Consumer {
  private constructor();
  readonly group: string;
  readonly closed: boolean;
  /** Records of the assigned partitions; waits up to `timeoutMs` for one to be sent in this pond. */
  poll(options?: PollOptions): Promise<LogRecord[]>;
  /** Every record, one at a time, waiting for new ones; ends on `close()`. Positions (and commits) cover exactly the records handed out. */
  [Symbol.asyncIterator](): AsyncIterator<LogRecord>;
  /** Commits the current positions, or the given next offsets (all or nothing: `CommitFailed`). */
  commit(offsets?: ReadonlyArray<TopicPartitionOffset>): void;
  committed(topic: string, partition: Int): number | null;
  position(topic: string, partition: Int): number;
  seek(topic: string, partition: Int, offset: Int): void;
  seekToBeginning(): void;
  seekToEnd(): void;
  seekToTime(timestampMs: Timestamp): void;
  assignment(): TopicPartition[];
  lag(): PartitionLag[];
  /**
   * Moves past damaged batches (after a `Corruption` error from `poll`):
   * the skipped ranges, `toOffset` exclusive; their records are not delivered.
   */
  skipDamaged(): SkippedRange[];
  memberId(): number;
  generation(): number;
  /** Leaves the group (committing first with auto-commit). */
  close(): void;
}

/** A record handed to one queue consumer, leased until acked, nacked or expired. */
export declare class Delivery {
  private constructor();
  readonly record: LogRecord;
  /** 1 on the first delivery; each redelivery counts. */
  readonly deliveryCount: number;
  /** Settles it. Throws `LeaseExpired` if its lease ran out or it was settled. */
  ack(): void;
  /** Gives it back, deliverable again after `delayMs`. Throws `LeaseExpired` like `ack`. */
  nack(options?: NackOptions): void;
}

/** A running `queue.subscribe(handler)`. */
export declare class Subscription {
  private constructor();
  readonly stopped: boolean;
  /** Stops taking deliveries; resolves once running handlers finished. */
  stop(): Promise<void>;
}

/** A consumer of a queue subscription: consumers of one subscription compete for its records. */
export declare class Queue {
  private constructor();
  readonly topic: string;
  readonly subscription: string;
  readonly closed: boolean;
  receive(options?: ReceiveOptions): Promise<Delivery[]>;
  [Symbol.asyncIterator](): AsyncIterator<Delivery>;
  /** Push delivery: a handler that resolves acks, one that throws nacks. */
  subscribe(handler: (delivery: Delivery) => unknown, options?: SubscribeOptions): Subscription;
  /** Unsettled records (in flight and parked included). */
  backlog(): number;
  inFlight(): number;
  parked(): ParkedRecord[];
  /**
   * Moves the subscription past damaged batches (after a `Corruption` error
   * from `receive`): their records are settled undelivered.
   */
  skipDamaged(): Omit<SkippedRange, 'topic'>[];
  /** Detaches this consumer: its leases are deliverable again at once. */
  close(): void;
}

/** A clock that moves only when told to (tests). Moving it wakes waiting polls and receives. */
export declare class ManualClock {
  /** @param startMs epoch milliseconds (default 0) */
  constructor(startMs?: Timestamp);
  advance(ms: Int): void;
  set(ms: Timestamp): void;
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
  readonly code: ErrorCode | (string & {});
}
export declare class TopicExists extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'TOPIC_EXISTS';
}
export declare class TopicNotFound extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'TOPIC_NOT_FOUND';
}
export declare class InvalidName extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'INVALID_NAME';
}
export declare class InvalidArgument extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'INVALID_ARGUMENT';
}
export declare class RecordTooLarge extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'RECORD_TOO_LARGE';
}
export declare class Backpressure extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'BACKPRESSURE';
}
export declare class OffsetOutOfRange extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'OFFSET_OUT_OF_RANGE';
}
export declare class Corruption extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'CORRUPTION';
}
/** The IndexedDB pond is open in another tab, window or worker. */
export declare class PondLocked extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'POND_LOCKED';
}
export declare class Closed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'CLOSED';
}
/** A commit of partitions not assigned to the consumer (or by a member the group removed). */
export declare class CommitFailed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'COMMIT_FAILED';
}
/** An ack or nack of a delivery whose lease ran out (or that was settled already). */
export declare class LeaseExpired extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'LEASE_EXPIRED';
}
/** IndexedDB failed (a flush refused: quota exceeded, database deleted, ...). */
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
