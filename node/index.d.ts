// Type definitions for logpond (Node.js). Hand-written; checked by
// `npm run typecheck` against test/usage.mts and test/usage.cts.

/// <reference types="node" />

/** Bytes a producer hands in: utf-8 for strings. They come back as `Buffer`. */
export type Bytes = Buffer | Uint8Array | string;

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

export interface OpenOptions {
  /**
   * `'os'` (default): every send reaches the OS before it returns, so it
   * survives a killed process. `'fsync'`: every send is on stable storage
   * before it returns (one fsync per batch), so it survives a power loss.
   */
  durability?: 'os' | 'fsync';
  /** Time for record timestamps and retention; the system clock by default. */
  clock?: ManualClock;
}

export interface MemoryOptions {
  /** Time for record timestamps and retention; the system clock by default. */
  clock?: ManualClock;
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

/** A stored record, as reads return it. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer]>;
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
 * An embeddable event broker over one directory (or memory). Every method
 * is synchronous. Get one with `Pond.open(path)` or `Pond.memory()`.
 */
export declare class Pond {
  private constructor();

  /**
   * Opens (creating if needed) the pond in directory `path`. One open handle
   * per directory at a time: a second open throws `PondLocked`.
   */
  static open(path: string | URL, options?: OpenOptions): Pond;

  /** A pond in memory: nothing is kept after `close()`. */
  static memory(options?: MemoryOptions): Pond;

  /** Creates a topic. Throws `TopicExists`, `InvalidName` or `InvalidArgument`. */
  createTopic(name: string, options?: TopicOptions): void;

  /** The user topics, sorted. */
  topics(): string[];

  hasTopic(name: string): boolean;

  /** A topic's partitions and configuration. Throws `TopicNotFound`. */
  describe(name: string): TopicInfo;

  /** Deletes a topic and all its records. Throws `TopicNotFound`. */
  deleteTopic(name: string): void;

  /**
   * Appends one record and returns where it landed. `value` may be null.
   * Throws `TopicNotFound`, `RecordTooLarge`, `InvalidArgument`.
   */
  send(topic: string, value: Bytes | null, options?: SendOptions): RecordMetadata;

  /**
   * Appends records: those bound for one partition go in one atomic batch,
   * in order. Every record is checked before any is written.
   */
  sendMany(topic: string, records: ReadonlyArray<Bytes | RecordInput>): RecordMetadata[];

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
  deleteRecords(topic: string, partition: Int, beforeOffset: Int): void;

  /** Runs time-based retention and compaction now (sends run them as they go). */
  maintain(): void;

  /** Makes every send so far durable (fsync), whatever the durability mode. */
  flush(): void;

  /** Closes the pond and releases its directory. Later calls throw `Closed`; closing twice is harmless. */
  close(): void;

  /** Whether `close()` was called. */
  readonly closed: boolean;
}

/**
 * A clock that moves only when told to: give it to `Pond.memory({ clock })`
 * or `Pond.open(path, { clock })` to drive retention (and later ack and
 * session timeouts) from a test.
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
/** A send past a topic's `maxBacklog`. */
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
/** A call on a closed pond. */
export declare class Closed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'CLOSED';
}
/** A consumer's offset commit was refused (its partitions were reassigned). For consumer groups, coming next. */
export declare class CommitFailed extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'COMMIT_FAILED';
}
/** An ack or nack of a delivery whose lease had expired. For queues, coming next. */
export declare class LeaseExpired extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'LEASE_EXPIRED';
}
/** An operating-system I/O failure. */
export declare class IoError extends LogpondError {
  constructor(message: string, options?: ErrorOptions);
  readonly code: 'IO';
}

declare const logpond: {
  Pond: typeof Pond;
  ManualClock: typeof ManualClock;
  LogpondError: typeof LogpondError;
  TopicExists: typeof TopicExists;
  TopicNotFound: typeof TopicNotFound;
  InvalidName: typeof InvalidName;
  InvalidArgument: typeof InvalidArgument;
  RecordTooLarge: typeof RecordTooLarge;
  Backpressure: typeof Backpressure;
  OffsetOutOfRange: typeof OffsetOutOfRange;
  Corruption: typeof Corruption;
  PondLocked: typeof PondLocked;
  Closed: typeof Closed;
  CommitFailed: typeof CommitFailed;
  LeaseExpired: typeof LeaseExpired;
  IoError: typeof IoError;
};
export default logpond;
