// Pond for browsers: the shared Pond (src/shared/pond.js) over memory or a
// mirror written back to IndexedDB (idb.js), with the browser's waits
// (waiters.js), its asynchronous flush and close, export and import.

import { WasmPond, WasmLoader, pageSize } from './wasm.js';
import { pondBackend } from './backend.js';
import { Pond as SharedPond } from './shared/pond.js';
import { kCreate, disposable, translate, errorOf, call } from './shared/internal.js';
import { clockOption } from './shared/clock.js';
import { typeName, checkString, checkData, checkOptions, checkKeys, checkOptBoolean, checkTimeout } from './shared/check.js';
import * as idb from './idb.js';
import { Hub } from './waiters.js';

const PAGE_SIZE = pageSize();
const DEFAULT_FLUSH_INTERVAL_MS = 50;
const DEFAULT_LOCK_TIMEOUT_MS = 1000;
/** After a failed automatic flush, the next try waits at least this long. */
const RETRY_FLUSH_MS = 1000;
const DURABILITIES = new Set(['default', 'strict', 'relaxed']);

const MEMORY_KEYS = new Set(['clock']);
const IDB_KEYS = new Set(['clock', 'flushIntervalMs', 'durability', 'lockTimeoutMs', 'onFlushError']);
const IMPORT_KEYS = new Set([...IDB_KEYS, 'indexedDb', 'replace']);
/**
 * @typedef {object} IdbState
 * @property {string} name
 * @property {IDBDatabase} db
 * @property {IDBTransactionDurability} durability
 * @property {() => void} release the Web Lock
 * @property {number} intervalMs
 * @property {((e: Error) => void) | undefined} onFlushError
 */

/** Options shared by openIndexedDb and importFiles. @param {Record<string, any>} o */
function idbOptions(o) {
  const intervalMs = checkTimeout(o.flushIntervalMs, 'flushIntervalMs', DEFAULT_FLUSH_INTERVAL_MS);
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
    intervalMs,
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
 * `await Pond.importFiles(files)`. Every method is synchronous except
 * `flush`, `close` and the waits of consumers and queues.
 */
export class Pond extends SharedPond {
  /** @type {WasmPond} */
  #w;
  /** @type {IdbState | null} */
  #idb;
  /** @type {Hub} */
  #hub;
  /** @type {() => void} */
  #unsubscribeClock = () => {};
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #flushTimer;
  /** Serializes flushes. @type {Promise<unknown>} */
  #chain = Promise.resolve();
  /** @type {Promise<void> | null} */
  #closing = null;
  /** @type {Error | null} */
  #lastFlushError = null;
  /** @type {((event: Event) => void) | null} */
  #onHide = null;

  /** @private Use `Pond.memory()`, `Pond.openIndexedDb(name)` or `Pond.importFiles(files)`. */
  constructor(/** @type {symbol} */ token, /** @type {WasmPond} */ w, /** @type {IdbState | null} */ state, /** @type {any} */ clock) {
    if (token !== kCreate) {
      throw new TypeError('use Pond.memory(), Pond.openIndexedDb(name) or Pond.importFiles(files) to get a Pond');
    }
    const hub = new Hub(() => w.nowMs(), clock !== undefined);
    super(token, pondBackend(w, hub, (wake) => this.#touched(wake)));
    this.#w = w;
    this.#idb = state;
    this.#hub = hub;
    if (clock !== undefined) this.#unsubscribeClock = clock.subscribe(() => hub.wakeNow());
    if (state !== null) {
      // Leaving the page (or hiding it: mobile browsers may then kill it
      // without a pagehide) writes back what is pending.
      const onHide = (/** @type {Event} */ event) => {
        if (event.type === 'visibilitychange' && globalThis.document?.visibilityState !== 'hidden') return;
        if (this.#closing !== null) return;
        this.flush().catch((e) => this.#flushFailed(e));
      };
      this.#onHide = onHide;
      globalThis.addEventListener?.('pagehide', onHide);
      globalThis.document?.addEventListener?.('visibilitychange', onHide);
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
      return new Pond(kCreate, WasmPond.memory(undefined, clock?.native.share()), null, clock);
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
    return Pond.#openIdb(name, settings, clock, async (db) => {
      const loader = new WasmLoader();
      await idb.load(db, loader);
      return loader;
    });
  }

  /**
   * @param {string} name @param {ReturnType<typeof idbOptions>} settings @param {any} clock
   * @param {(db: IDBDatabase) => Promise<WasmLoader>} fill
   */
  static async #openIdb(name, settings, clock, fill) {
    const release = await idb.acquireLock(name, settings.lockTimeoutMs);
    /** @type {IDBDatabase | undefined} */
    let db;
    try {
      db = await idb.openDb(name);
      const loader = await fill(db);
      let w;
      try {
        w = WasmPond.mirrored(loader, clock?.native.share());
      } catch (e) {
        throw translate(e);
      }
      const state = { name, db, release, ...settings };
      const pond = new Pond(kCreate, w, state, clock);
      // Opening may have written (a new pond's format marker, a torn tail
      // cut off): make that durable before anyone relies on it.
      await pond.flush();
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
        return new Pond(kCreate, WasmPond.memory(fill(), clock?.native.share()), null, clock);
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
      return fill();
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
    const release = await idb.acquireLock(name, checkTimeout(o.lockTimeoutMs, 'lockTimeoutMs', DEFAULT_LOCK_TIMEOUT_MS));
    try {
      await idb.deleteDb(name);
    } catch (e) {
      throw errorOf('IO', `cannot delete IndexedDB pond ${JSON.stringify(name)}: ${String(/** @type {any} */ (e)?.message ?? e)}`, { cause: e });
    } finally {
      release();
    }
  }

  /** Something may have changed: flush soon; `wake` waiting polls and receives. @param {boolean} wake */
  #touched(wake) {
    if (wake) this.#hub.wake();
    const s = this.#idb;
    if (s === null || this.#flushTimer !== undefined || this.#closing !== null) return;
    if (!Number.isFinite(s.intervalMs)) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.flush().catch((e) => this.#flushFailed(e));
    }, s.intervalMs);
  }

  /** An automatic flush failed: report it and try again later. @param {Error} e */
  #flushFailed(e) {
    const s = this.#idb;
    if (s === null || this.#closing !== null) return;
    if (s.onFlushError !== undefined) s.onFlushError(e);
    else if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
    else console.error(e);
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.flush().catch((err) => this.#flushFailed(err));
      }, Math.max(s.intervalMs, RETRY_FLUSH_MS));
    }
  }

  /** One write-back of what changed since the last. */
  async #writeBack() {
    const s = this.#idb;
    if (s === null) return;
    const changes = this.#w.takeChanges();
    if (changes === null) return;
    try {
      await idb.write(s.db, changes, s.durability, PAGE_SIZE);
    } catch (e) {
      this.#w.endFlush(false);
      const err = errorOf(
        'IO',
        `flush to IndexedDB failed (the changes are kept for the next flush): ${String(/** @type {any} */ (e)?.name ?? '')} ${String(/** @type {any} */ (e)?.message ?? e)}`.trim(),
        { cause: e },
      );
      this.#lastFlushError = err;
      throw err;
    }
    this.#w.endFlush(true);
    this.#lastFlushError = null;
  }

  /** @returns {Promise<void>} */
  #enqueueFlush() {
    const p = this.#chain.then(() => this.#writeBack());
    this.#chain = p.catch(() => {});
    return p;
  }

  /**
   * Resolves once everything sent (and every ack and commit) so far is in
   * IndexedDB, written in one transaction. Rejects with `IoError` when
   * IndexedDB refuses (quota exceeded): the changes stay queued for the
   * next flush. A memory pond has nothing to flush.
   * @returns {Promise<void>}
   */
  async flush() {
    if (this.#closing !== null) throw errorOf('CLOSED', 'pond is closed');
    call(() => this.#w.flush());
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.#enqueueFlush();
  }

  /**
   * Closes the pond: later calls throw `Closed`, waiting polls and
   * receives end. For an IndexedDB pond the returned promise resolves once
   * the last changes are written and the pond's lock is released.
   * Closing twice is harmless.
   * @returns {Promise<void>}
   */
  close() {
    if (this.#closing !== null) return this.#closing;
    /** @type {Error | null} */
    let error = null;
    try {
      this.#w.close();
    } catch (e) {
      error = translate(e);
    }
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#unsubscribeClock();
    this.#hub.closeAll();
    const s = this.#idb;
    if (this.#onHide !== null) {
      globalThis.removeEventListener?.('pagehide', this.#onHide);
      globalThis.document?.removeEventListener?.('visibilitychange', this.#onHide);
    }
    const finish = async () => {
      if (s !== null) {
        try {
          await this.#enqueueFlush();
        } finally {
          s.db.close();
          s.release();
        }
      }
      if (error !== null) throw error;
    };
    this.#closing = finish();
    return this.#closing;
  }

  /** The IndexedDB pond's name (null for a memory pond). */
  get name() {
    return this.#idb?.name ?? null;
  }

  /** The error of the last flush when it failed (cleared by the next one that succeeds). */
  get lastFlushError() {
    return this.#lastFlushError;
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
