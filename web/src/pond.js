// Pond for browsers: the shared Pond (src/shared/pond.js) over memory or a
// mirror of IndexedDB shared with the pond's other tabs and workers
// (idb.js, writer.js), with the browser's waits (waiters.js), its
// asynchronous open and close, export and import.

import { WasmPond, WasmLoader, pageSize } from './wasm.js';
import { pondBackend, report } from './backend.js';
import { Pond as SharedPond } from './shared/pond.js';
import { kCreate, disposable, translate, errorOf, call } from './shared/internal.js';
import { clockOption } from './shared/clock.js';
import { typeName, checkString, checkData, checkOptions, checkKeys, checkOptBoolean, checkTimeout } from './shared/check.js';
import * as idb from './idb.js';
import { Hub } from './waiters.js';
import { Writer } from './writer.js';

const PAGE_SIZE = pageSize();
const DEFAULT_LOCK_TIMEOUT_MS = 1000;
const DURABILITIES = new Set(['default', 'strict', 'relaxed']);

const MEMORY_KEYS = new Set(['clock']);
const IDB_KEYS = new Set(['clock', 'flushIntervalMs', 'durability', 'lockTimeoutMs', 'onFlushError']);
const IMPORT_KEYS = new Set([...IDB_KEYS, 'indexedDb', 'replace']);
/**
 * @typedef {object} IdbState
 * @property {string} name
 * @property {IDBDatabase} db
 * @property {IDBTransactionDurability} durability
 * @property {() => void} release the Web Locks (the pond's, and the holder's)
 * @property {((e: Error) => void) | undefined} onFlushError
 */

/** Options shared by openIndexedDb and importFiles. @param {Record<string, any>} o */
function idbOptions(o) {
  // Accepted for older code; writes no longer wait for a timer.
  checkTimeout(o.flushIntervalMs, 'flushIntervalMs', 0);
  const durability = o.durability ?? 'default';
  checkString(durability, 'durability');
  if (!DURABILITIES.has(durability)) {
    throw errorOf('INVALID_ARGUMENT', `durability must be 'default', 'strict' or 'relaxed', got '${durability}'`);
  }
  const lockTimeoutMs = checkTimeout(o.lockTimeoutMs, 'lockTimeoutMs', DEFAULT_LOCK_TIMEOUT_MS);
  if (o.onFlushError != null && typeof o.onFlushError !== 'function') {
    throw new TypeError(`onFlushError must be a function, got ${typeName(o.onFlushError)}`);
  }
  return {
    durability: /** @type {IDBTransactionDurability} */ (durability),
    lockTimeoutMs,
    onFlushError: o.onFlushError ?? undefined,
  };
}

/** @param {string} name */
function checkPondName(name) {
  checkString(name, 'pond name');
  if (name.length === 0) throw errorOf('INVALID_ARGUMENT', 'pond name must not be empty');
}

/**
 * An embeddable event broker in a tab or worker. Get one with
 * `Pond.memory()`, `await Pond.openIndexedDb(name)` or
 * `await Pond.importFiles(files)`. Reads are synchronous; every call that
 * changes the pond returns a Promise, which resolves once the change is
 * in IndexedDB (for a memory pond, at once). Tabs and workers that open
 * the same IndexedDB pond share it live.
 */
export class Pond extends SharedPond {
  /** @type {WasmPond} */
  #w;
  /** @type {IdbState | null} */
  #idb;
  /** @type {Hub} */
  #hub;
  /** @type {Writer} */
  #writer;
  /** @type {() => void} */
  #unsubscribeClock = () => {};
  /** @type {Promise<void> | null} */
  #closing = null;
  /** @type {Error | null} */
  #failure = null;
  /** @type {((event: Event) => void) | null} */
  #onHide = null;

  /** @private Use `Pond.memory()`, `Pond.openIndexedDb(name)` or `Pond.importFiles(files)`. */
  constructor(
    /** @type {symbol} */ token,
    /** @type {WasmPond} */ w,
    /** @type {IdbState | null} */ state,
    /** @type {any} */ clock,
    /** @type {number} */ version,
  ) {
    if (token !== kCreate) {
      throw new TypeError('use Pond.memory(), Pond.openIndexedDb(name) or Pond.importFiles(files) to get a Pond');
    }
    const hub = new Hub(() => w.nowMs(), clock !== undefined);
    const target = state === null ? null : { db: state.db, durability: state.durability, name: state.name, pageSize: PAGE_SIZE };
    const writer = new Writer(w, target, version, () => hub.wake(), (e) => this.#failed(e));
    super(token, pondBackend(w, hub, writer));
    this.#w = w;
    this.#idb = state;
    this.#hub = hub;
    this.#writer = writer;
    if (clock !== undefined) this.#unsubscribeClock = clock.subscribe(() => hub.wakeNow());
    if (state !== null) {
      // A page that goes away (not into the back-forward cache) closes its
      // ponds: its group members leave and its leases return at once,
      // instead of after their timeouts.
      const onHide = (/** @type {Event} */ event) => {
        if (/** @type {PageTransitionEvent} */ (event).persisted) return;
        this.close().catch(() => {});
      };
      this.#onHide = onHide;
      globalThis.addEventListener?.('pagehide', onHide);
    }
  }

  /**
   * A pond in memory: nothing is kept after the tab goes (export it with
   * `exportFiles()`).
   * @param {{ clock?: import('./shared/clock.js').ManualClock }} [options]
   */
  static memory(options) {
    const o = checkOptions(options, 'Pond.memory options');
    checkKeys(o, MEMORY_KEYS, 'Pond.memory');
    const clock = clockOption(o.clock, 'clock');
    try {
      return new Pond(kCreate, WasmPond.memory(undefined, clock?.native.share()), null, clock, 0);
    } catch (e) {
      throw translate(e);
    }
  }

  /**
   * Opens (creating if needed) the pond kept in IndexedDB under `name`.
   * @param {string} name
   * @param {{ flushIntervalMs?: number, durability?: 'default' | 'strict' | 'relaxed', clock?: any, lockTimeoutMs?: number, onFlushError?: (e: Error) => void }} [options]
   * @returns {Promise<Pond>}
   */
  static async openIndexedDb(name, options) {
    checkPondName(name);
    const o = checkOptions(options, 'Pond.openIndexedDb options');
    checkKeys(o, IDB_KEYS, 'Pond.openIndexedDb');
    const settings = idbOptions(o);
    const clock = clockOption(o.clock, 'clock');
    return Pond.#openIdb(name, settings, clock, async () => {});
  }

  /**
   * Opens pond `name`: loads every file and opens the wasm pond on them in
   * one write transaction (opening may write: a new pond's files, a torn
   * tail cut off). A pond read through a ManualClock is not shared: it
   * holds the pond's Web Lock exclusively.
   * @param {string} name @param {ReturnType<typeof idbOptions>} settings @param {any} clock
   * @param {(db: IDBDatabase) => Promise<void>} prepare runs first (an import fills the database)
   */
  static async #openIdb(name, settings, clock, prepare) {
    const shared = clock === undefined;
    const pondLock = await idb.acquireLock(name, settings.lockTimeoutMs, shared ? 'shared' : 'exclusive');
    const holder = shared ? await idb.acquireHolder(name) : null;
    const release = () => {
      holder?.release();
      pondLock();
    };
    /** @type {IDBDatabase | undefined} */
    let db;
    try {
      db = await idb.openDb(name);
      await prepare(db);
      const { w, version } = await idb.inTransaction(db, settings.durability, async (tx) => {
        const loader = new WasmLoader();
        const head = await idb.load(tx, loader);
        let w;
        try {
          w = WasmPond.mirrored(loader, clock?.native.share(), shared, holder?.id);
        } catch (e) {
          throw translate(e);
        }
        return { w, version: idb.commitMirror(tx, w, head, PAGE_SIZE) };
      });
      const state = { name, db, release, ...settings };
      const pond = new Pond(kCreate, w, state, clock, version);
      if (version > 0) pond.#writer.announce();
      return pond;
    } catch (e) {
      db?.close();
      release();
      throw e instanceof Error && 'code' in e ? e : errorOf('IO', `cannot open IndexedDB pond ${JSON.stringify(name)}: ${String(/** @type {any} */ (e)?.message ?? e)}`, { cause: e });
    }
  }

  /**
   * A pond holding `files` (as `exportFiles()` gives them, or read from a
   * pond directory): in memory, or in IndexedDB under `options.indexedDb`
   * (which must be empty unless `replace: true`).
   * @param {Iterable<{ name: string, bytes: Uint8Array | ArrayBuffer }>} files
   * @param {Record<string, any>} [options]
   * @returns {Promise<Pond>}
   */
  static async importFiles(files, options) {
    const o = checkOptions(options, 'Pond.importFiles options');
    checkKeys(o, IMPORT_KEYS, 'Pond.importFiles');
    if (files == null || typeof (/** @type {any} */ (files)[Symbol.iterator]) !== 'function') {
      throw new TypeError(`files must be an array of { name, bytes }, got ${typeName(files)}`);
    }
    /** @type {Array<{ name: string, bytes: Uint8Array }>} */
    const list = [];
    for (const f of files) {
      if (f === null || typeof f !== 'object') throw new TypeError(`a file must be { name, bytes }, got ${typeName(f)}`);
      checkString(f.name, 'file name');
      const bytes = checkData(f.bytes, `file ${f.name}`);
      if (typeof bytes === 'string') throw new TypeError(`file ${f.name}: bytes must be a Uint8Array, got a string`);
      list.push({ name: f.name, bytes });
    }
    const clock = clockOption(o.clock, 'clock');
    const fill = () => {
      const loader = new WasmLoader();
      for (const { name, bytes } of list) loader.whole(name, bytes);
      return loader;
    };
    if (o.indexedDb == null) {
      checkKeys(o, new Set(['clock', 'indexedDb']), 'Pond.importFiles (in memory)');
      try {
        return new Pond(kCreate, WasmPond.memory(fill(), clock?.native.share()), null, clock, 0);
      } catch (e) {
        throw translate(e);
      }
    }
    checkPondName(o.indexedDb);
    const replace = checkOptBoolean(o.replace, 'replace') ?? false;
    const settings = idbOptions(o);
    return Pond.#openIdb(o.indexedDb, settings, clock, async (db) => {
      if (!replace && !(await idb.isEmpty(db))) {
        throw errorOf('INVALID_ARGUMENT', `IndexedDB pond ${JSON.stringify(o.indexedDb)} is not empty (pass replace: true to overwrite it)`);
      }
      await idb.replaceAll(db, list, settings.durability, PAGE_SIZE);
    });
  }

  /**
   * Deletes the IndexedDB pond `name` (it must not be open).
   * @param {string} name @param {{ lockTimeoutMs?: number }} [options]
   */
  static async deleteIndexedDb(name, options) {
    checkPondName(name);
    const o = checkOptions(options, 'Pond.deleteIndexedDb options');
    checkKeys(o, new Set(['lockTimeoutMs']), 'Pond.deleteIndexedDb');
    const release = await idb.acquireLock(name, checkTimeout(o.lockTimeoutMs, 'lockTimeoutMs', DEFAULT_LOCK_TIMEOUT_MS), 'exclusive');
    try {
      await idb.deleteDb(name);
    } catch (e) {
      throw errorOf('IO', `cannot delete IndexedDB pond ${JSON.stringify(name)}: ${String(/** @type {any} */ (e)?.message ?? e)}`, { cause: e });
    } finally {
      release();
    }
  }

  /** The writer gave up (IndexedDB refused a transaction): the pond closes. @param {Error} e */
  #failed(e) {
    this.#failure = e;
    if (this.#closing !== null) return;
    this.#closing = Promise.resolve();
    this.#stopListening();
    try {
      // What the mirror holds beyond IndexedDB is dropped with it.
      this.#w.setWritable(true);
      this.#w.close();
    } catch {
      // closing what failed: nothing more to lose
    }
    this.#letGo();
    (this.#idb?.onFlushError ?? report)(e);
  }

  /** Stops hearing from the clock and the page, and ends the waits. */
  #stopListening() {
    this.#unsubscribeClock();
    if (this.#onHide !== null) globalThis.removeEventListener?.('pagehide', this.#onHide);
    this.#hub.closeAll();
  }

  /** Lets go of IndexedDB and the pond's Web Locks. */
  #letGo() {
    this.#writer.close();
    this.#idb?.db.close();
    this.#idb?.release();
  }

  /**
   * Resolves once every change made so far is in IndexedDB (each writing
   * call's own Promise says the same of its change). Rejects with the
   * `IoError` that closed the pond when IndexedDB refused a write. A
   * memory pond has nothing to flush.
   * @returns {Promise<void>}
   */
  async flush() {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closing !== null) throw errorOf('CLOSED', 'pond is closed');
    call(() => this.#w.flush());
    await this.#writer.idle();
    if (this.#failure !== null) throw this.#failure;
  }

  /** Whether `close()` was called (or a failed write closed the pond). */
  get closed() {
    return this.#closing !== null || super.closed;
  }

  /**
   * Closes the pond: later calls throw `Closed`, waiting polls and
   * receives end; this tab's group members leave and its queue leases
   * return. For an IndexedDB pond the returned promise resolves once the
   * changes made before are written and the pond's lock is released.
   * Closing twice is harmless.
   * @returns {Promise<void>}
   */
  close() {
    if (this.#closing !== null) return this.#closing;
    const w = this.#w;
    // Queued behind every earlier write: they land first.
    const closed = this.#writer.run(() => w.close());
    this.#stopListening();
    const finish = async () => {
      try {
        await closed;
      } catch (e) {
        if (this.#failure === null) throw translate(e);
      } finally {
        // A failure meanwhile has let go already.
        if (this.#failure === null) this.#letGo();
      }
    };
    this.#closing = finish();
    return this.#closing;
  }

  /** The IndexedDB pond's name (null for a memory pond). */
  get name() {
    return this.#idb?.name ?? null;
  }

  /** The error that closed the pond when IndexedDB refused a write (null otherwise). */
  get lastFlushError() {
    return this.#failure;
  }

  /** Bytes the pond holds in memory (an IndexedDB pond mirrors all of its files; retention bounds them). */
  memoryBytes() {
    return call(() => this.#w.memoryBytes());
  }

  /**
   * Every file of the pond, as a file pond holds them in its directory
   * (`name` is the `/`-separated path): write them under a directory and
   * Rust, Python or Node open it.
   * @returns {Array<{ name: string, bytes: Uint8Array }>}
   */
  exportFiles() {
    const flat = call(() => this.#w.exportFiles());
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ name: flat[i], bytes: flat[i + 1] });
    return out;
  }

  toString() {
    return `Pond { ${this.#idb === null ? 'memory' : `IndexedDB ${JSON.stringify(this.#idb.name)}`}${this.closed ? ', closed' : ''} }`;
  }
}

disposable(Pond);
