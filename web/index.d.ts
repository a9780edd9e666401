// Type definitions for logpond-web (browsers): the shared API (shared.d.ts,
// copied from the repository's js/index.d.ts at build time) and the
// browser's Pond. Hand-written; checked by `npm run typecheck` against
// test/usage.ts.

import { Pond as SharedPond, ManualClock, IoError } from './shared';

export * from './shared';

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
   * @deprecated Accepted and ignored: every write is in IndexedDB when its
   * Promise resolves.
   */
  flushIntervalMs?: number;
  /** IndexedDB's durability hint for write transactions (default `'default'`). */
  durability?: Durability;
  /** Time for record timestamps, retention and timeouts; the wall clock by default. */
  clock?: ManualClock;
  /**
   * How long to wait before `PondLocked` for a tab or worker that holds the
   * pond exclusively (one opened with a ManualClock) (ms; default 1000).
   */
  lockTimeoutMs?: number;
  /**
   * Called when IndexedDB refuses a write (quota exceeded, the database
   * deleted) and the pond closes because of it: also when no call of
   * yours was waiting (a catch-up of another tab's changes). Default:
   * `reportError`.
   */
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

/**
 * An embeddable event broker in a tab or worker. Get one with
 * `Pond.memory()`, `await Pond.openIndexedDb(name)` or
 * `await Pond.importFiles(files)`. Reads are synchronous; every call that
 * changes the pond returns a Promise (`Written<T>`), resolved once the
 * change is in IndexedDB (at once for a memory pond). Tabs and workers
 * that open one IndexedDB pond share it live.
 */
export declare class Pond extends SharedPond {
  private constructor();

  /** A pond in memory: nothing is kept after the page goes (unless exported). */
  static memory(options?: MemoryOptions): Pond;

  /**
   * Opens (creating if needed) the pond kept in IndexedDB under `name`
   * (database `logpond:<name>`), loading it into memory. Any number of
   * tabs and workers of the origin may hold it open at once and share it
   * live; one opened with a ManualClock holds it alone (else `PondLocked`).
   */
  static openIndexedDb(name: string, options?: IndexedDbOptions): Promise<Pond>;

  /** A pond holding `files` (as `exportFiles()` gives them, or read from a pond directory). */
  static importFiles(files: Iterable<{ name: string; bytes: Uint8Array | ArrayBuffer }>, options?: ImportOptions): Promise<Pond>;

  /** Deletes the IndexedDB pond `name` (it must not be open). */
  static deleteIndexedDb(name: string, options?: { lockTimeoutMs?: number }): Promise<void>;

  /**
   * Resolves once every change made so far (sends, commits, acks) is in
   * IndexedDB. Rejects with the `IoError` that closed the pond when
   * IndexedDB refused a write (quota exceeded). Nothing to do for a memory
   * pond.
   */
  flush(): Promise<void>;
  /**
   * Closes the pond now (later calls throw `Closed`; waiting polls and
   * receives reject with `Closed`); its group members leave and its queue
   * leases return. The promise resolves once the last changes are in
   * IndexedDB and the pond's lock is released.
   */
  close(): Promise<void>;
  /** The IndexedDB pond's name (null in memory). */
  readonly name: string | null;
  /** The error that closed the pond when IndexedDB refused a write (else null). */
  readonly lastFlushError: IoError | null;
  /** Bytes the pond holds in memory (an IndexedDB pond mirrors all of its files; retention bounds them). */
  memoryBytes(): number;
  /** Every file, as a file pond holds them in its directory. */
  exportFiles(): PondFile[];
}
