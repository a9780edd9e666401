// Type definitions for logpond (Node.js): the shared API (shared.d.ts,
// copied from the repository's js/index.d.ts at build time) and Node's
// Pond. Hand-written; checked by `npm run typecheck` against
// test/usage.mts and test/usage.cts.

/// <reference types="node" />

import { Pond as SharedPond, ManualClock } from './shared';

export * from './shared';

export interface OpenOptions {
  /**
   * `'os'` (default): every send reaches the OS before it returns, so it
   * survives a killed process. `'fsync'`: every send is on stable storage
   * before it returns (one fsync per batch), so it survives a power loss.
   */
  durability?: 'os' | 'fsync';
  /** Time for record timestamps and retention; the system clock by default. */
  clock?: ManualClock;
  /**
   * New files are private to the owner (0600, directories 0700) whatever
   * the umask; `true` makes them 0660/0770 for a pond shared by a group.
   */
  groupAccess?: boolean;
  /**
   * A handle that never writes: it opens an existing pond (beside writers,
   * or on a read-only mount) and every call that would change it throws
   * `IoError`.
   */
  readOnly?: boolean;
}

export interface MemoryOptions {
  /** Time for record timestamps and retention; the system clock by default. */
  clock?: ManualClock;
}

/**
 * An embeddable event broker over one directory (or memory). Every method
 * is synchronous. Get one with `Pond.open(path)` or `Pond.memory()`.
 */
export declare class Pond extends SharedPond {
  private constructor();

  /**
   * Opens (creating if needed) the pond in directory `path`. One open handle
   * per directory at a time: a second open throws `PondLocked`.
   */
  static open(path: string | URL, options?: OpenOptions): Pond;

  /** A pond in memory: nothing is kept after `close()`. */
  static memory(options?: MemoryOptions): Pond;

  /** Makes every send so far durable (fsync), whatever the durability mode. */
  flush(): void;

  /** Closes the pond and releases its directory. Later calls throw `Closed`; closing twice is harmless. */
  close(): void;
}

/** The default export (`import logpond from 'logpond'`): every export above, as `require('logpond')` gives them. */
declare const logpond: Omit<typeof import('./index'), 'default'>;
export default logpond;
