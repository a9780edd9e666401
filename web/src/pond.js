// Pond: the log side (topics, send, read), its storage (memory, or a
// mirror written back to IndexedDB), and the factories of consumers and
// queues.

import { WasmPond, WasmLoader, pageSize } from './wasm.js';
import { translate, errorOf } from './errors.js';
import { clockOption } from './clock.js';
import {
  typeName,
  checkString,
  checkData,
  checkOptData,
  checkNumber,
  checkOptNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  checkWait,
  Packer,
  packNumber,
  unpackRecords,
} from './convert.js';
import * as idb from './idb.js';
import { Hub } from './waiters.js';
import { Consumer, consumerArgs } from './consumer.js';
import { Queue, queueArgs } from './queue.js';
import { kConsumer, kQueue } from './internal.js';

const PAGE_SIZE = pageSize();
const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
const DEFAULT_FLUSH_INTERVAL_MS = 50;
const DEFAULT_LOCK_TIMEOUT_MS = 1000;
/** After a failed automatic flush, the next try waits at least this long. */
const RETRY_FLUSH_MS = 1000;
const DURABILITIES = new Set(['default', 'strict', 'relaxed']);

const MEMORY_KEYS = new Set(['clock']);
const SEND_MANY_KEYS = new Set(['timeoutMs']);
const IDB_KEYS = new Set(['clock', 'flushIntervalMs', 'durability', 'lockTimeoutMs', 'onFlushError']);
const IMPORT_KEYS = new Set([...IDB_KEYS, 'indexedDb', 'replace']);
const TOPIC_NUMBER_KEYS = [
  'partitions',
  'retentionMs',
  'retentionBytes',
  'retentionRecords',
  'deleteRetentionMs',
  'maxRecordBytes',
  'maxBacklog',
  'segmentBytes',
  'segmentMs',
];
const TOPIC_KEYS = new Set([...TOPIC_NUMBER_KEYS, 'compact', 'retainUntilAcked']);

/** Packs every send: calls are synchronous, so one packer is enough unless user code run while packing sends again. */
const PACKER = new Packer();
let packerBusy = false;

function acquirePacker() {
  const packer = packerBusy ? new Packer() : PACKER;
  packerBusy = true;
  packer.reset();
  return packer;
}

/** @param {Packer} packer */
function releasePacker(packer) {
  if (packer === PACKER) {
    packerBusy = false;
    packer.shrink();
  }
}

const kCreate = Symbol('logpond.create');

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
  const intervalMs = checkWait(o.flushIntervalMs, 'flushIntervalMs', DEFAULT_FLUSH_INTERVAL_MS);
  const durability = o.durability ?? 'default';
  checkString(durability, 'durability');
  if (!DURABILITIES.has(durability)) {
    throw errorOf('INVALID_ARGUMENT', `durability must be 'default', 'strict' or 'relaxed', got '${durability}'`);
  }
  const lockTimeoutMs = checkWait(o.lockTimeoutMs, 'lockTimeoutMs', DEFAULT_LOCK_TIMEOUT_MS);
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
 * `{ topic, partition, offset, timestampMs }` of `n` sent records, from the
 * numbers the core wrote (three per record).
 * @param {string} topic @param {ArrayLike<number>} meta @param {number} n
 */
function metadata(topic, meta, n) {
  const out = new Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = { topic, partition: meta[j], offset: meta[j + 1], timestampMs: meta[j + 2] };
  }
  return out;
}

/**
 * An embeddable event broker in a tab or worker. Get one with
 * `Pond.memory()`, `await Pond.openIndexedDb(name)` or
 * `await Pond.importFiles(files)`. Every method is synchronous except
 * `flush`, `close` and the waits of consumers and queues.
 */
export class Pond {
  /** @type {WasmPond} */
  #w;
  /** @type {IdbState | null} */
  #idb;
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
    this.#w = w;
    this.#idb = state;
    this.#hub = new Hub(() => w.nowMs(), clock !== undefined);
    if (clock !== undefined) this.#unsubscribeClock = clock.subscribe(() => this.#hub.wakeNow());
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
   * @param {{ clock?: import('./clock.js').ManualClock }} [options]
   */
  static memory(options) {
    const o = checkOptions(options, 'Pond.memory options');
    checkKeys(o, MEMORY_KEYS, 'Pond.memory');
    const clock = clockOption(o.clock, 'clock');
    try {
      return new Pond(kCreate, WasmPond.memory(undefined, clock?.handle()), null, clock);
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
        w = WasmPond.mirrored(loader, clock?.handle());
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
        return new Pond(kCreate, WasmPond.memory(fill(), clock?.handle()), null, clock);
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
    const release = await idb.acquireLock(name, checkWait(o.lockTimeoutMs, 'lockTimeoutMs', DEFAULT_LOCK_TIMEOUT_MS));
    try {
      await idb.deleteDb(name);
    } catch (e) {
      throw errorOf('IO', `cannot delete IndexedDB pond ${JSON.stringify(name)}: ${String(/** @type {any} */ (e)?.message ?? e)}`, { cause: e });
    } finally {
      release();
    }
  }

  /** Runs `f` on the wasm pond, mapping errors. @template T @param {(w: WasmPond) => T} f @returns {T} */
  #read(f) {
    try {
      return f(this.#w);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Like #read, for calls that change the pond: schedules a flush and wakes waiters. @template T @param {(w: WasmPond) => T} f @returns {T} */
  #write(f) {
    try {
      return f(this.#w);
    } catch (e) {
      throw translate(e);
    } finally {
      this.#touched(true);
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
    this.#read((w) => w.flush());
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

  /** Whether `close()` was called. */
  get closed() {
    return this.#w.isClosed();
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
    return this.#read((w) => w.memoryBytes());
  }

  /**
   * Every file of the pond, as a file pond holds them in its directory
   * (`name` is the `/`-separated path): write them under a directory and
   * Rust, Python or Node open it.
   * @returns {Array<{ name: string, bytes: Uint8Array }>}
   */
  exportFiles() {
    const flat = this.#read((w) => w.exportFiles());
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ name: flat[i], bytes: flat[i + 1] });
    return out;
  }

  /** Creates a topic; `TopicExists` if it exists. @param {string} name @param {Record<string, any>} [options] */
  createTopic(name, options) {
    checkString(name, 'topic name');
    const o = checkOptions(options, 'createTopic options');
    checkKeys(o, TOPIC_KEYS, 'createTopic');
    /** @type {Record<string, number | undefined>} */
    const n = {};
    for (const k of TOPIC_NUMBER_KEYS) n[k] = checkOptNumber(o[k], k);
    const compact = checkOptBoolean(o.compact, 'compact') ?? false;
    const retain = checkOptBoolean(o.retainUntilAcked, 'retainUntilAcked') ?? false;
    this.#write((w) =>
      w.createTopic(
        name,
        n.partitions,
        n.retentionMs,
        n.retentionBytes,
        n.retentionRecords,
        compact,
        n.deleteRetentionMs,
        n.maxRecordBytes,
        n.maxBacklog,
        n.segmentBytes,
        n.segmentMs,
        retain,
      ),
    );
  }

  /** User topics, sorted. @returns {string[]} */
  topics() {
    return this.#read((w) => w.topics());
  }

  /** @param {string} name */
  hasTopic(name) {
    checkString(name, 'topic name');
    return this.#read((w) => w.hasTopic(name));
  }

  /** A topic's partitions (offsets, bytes) and configuration. @param {string} name */
  describe(name) {
    checkString(name, 'topic name');
    return this.#read((w) => w.describe(name));
  }

  /** Deletes a topic and its records. @param {string} name */
  deleteTopic(name) {
    checkString(name, 'topic name');
    this.#write((w) => w.deleteTopic(name));
  }

  /**
   * Appends one record; returns where it landed.
   * @param {string} topic @param {string | Uint8Array | null} value @param {Record<string, any>} [options]
   */
  send(topic, value, options) {
    if (typeof topic !== 'string') checkString(topic, 'topic');
    const v = value === null ? null : checkData(value, 'value');
    const packer = acquirePacker();
    try {
      if (options == null) {
        packer.record(v, null, null, NaN, NaN, 'send');
      } else {
        const o = checkOptions(options, 'send options');
        const key = o.key == null ? null : checkData(o.key, 'key');
        packer.record(v, key, o.headers, packNumber(o.partition, 'partition'), packNumber(o.timestampMs, 'timestampMs'), 'headers');
      }
      if (options != null && options.timeoutMs != null) {
        return this.#sendWaiting(packer, topic, 1, options.timeoutMs).then((meta) => metadata(topic, meta, 1)[0]);
      }
      const meta = this.#sendPacked(packer, topic, 1);
      return { topic, partition: meta[0], offset: meta[1], timestampMs: meta[2] };
    } finally {
      releasePacker(packer);
    }
  }

  /**
   * Appends records (each a value, or `{ key, value, headers, partition,
   * timestampMs }`): those bound for one partition go in one atomic batch,
   * in order; all are checked before any is written.
   * @param {string} topic @param {Array<any>} records
   */
  sendMany(topic, records, options) {
    checkString(topic, 'topic');
    if (!Array.isArray(records)) throw new TypeError(`sendMany records must be an array, got ${typeName(records)}`);
    let timeoutMs;
    if (options != null) {
      const o = checkOptions(options, 'sendMany options');
      checkKeys(o, SEND_MANY_KEYS, 'sendMany');
      timeoutMs = o.timeoutMs ?? undefined;
    }
    const packer = acquirePacker();
    try {
      const n = records.length;
      for (let i = 0; i < n; i++) {
        const r = records[i];
        if (typeof r === 'string' || r instanceof Uint8Array) {
          packer.record(r, null, null, NaN, NaN, '');
          continue;
        }
        if (r === null || typeof r !== 'object' || Array.isArray(r)) {
          throw new TypeError(
            `sendMany record ${i} must be a Uint8Array, string or { key, value, headers, partition, timestampMs } object, got ${typeName(r)}`,
          );
        }
        packer.record(
          checkOptData(r.value, `record ${i} value`),
          r.key == null ? null : checkData(r.key, `record ${i} key`),
          r.headers,
          packNumber(r.partition, `record ${i} partition`),
          packNumber(r.timestampMs, `record ${i} timestampMs`),
          `record ${i} headers`,
        );
      }
      if (timeoutMs !== undefined) {
        return this.#sendWaiting(packer, topic, n, timeoutMs).then((meta) => metadata(topic, meta, n));
      }
      return metadata(topic, this.#sendPacked(packer, topic, n), n);
    } finally {
      releasePacker(packer);
    }
  }

  /**
   * Sends what `packer` holds, waiting up to `timeoutMs` while it meets
   * `Backpressure`: an ack (or anything else that changes the pond) runs
   * the attempt again. The packed records are copied first: the packer goes
   * back to the pool when the calling method returns.
   * @param {Packer} packer @param {string} topic @param {number} count @param {unknown} timeoutMs
   * @returns {Promise<Float64Array>}
   */
  #sendWaiting(packer, topic, count, timeoutMs) {
    const limit = checkWait(timeoutMs, 'timeoutMs', 0);
    const meta = packer.meta.slice(0, packer.m);
    const data = packer.data.slice(0, packer.pos);
    /** @type {unknown} */
    let refused;
    // A refused attempt changes nothing: it must not wake the waiters (itself included).
    const attempt = () => {
      let sent;
      try {
        sent = this.#w.sendPacked(topic, meta, data, count);
      } catch (e) {
        const err = translate(e);
        if (/** @type {any} */ (err).code !== 'BACKPRESSURE') throw err;
        refused = err;
        return [];
      }
      this.#touched(true);
      return [sent];
    };
    try {
      const first = attempt();
      if (first.length > 0 || limit === 0) return first.length > 0 ? Promise.resolve(first[0]) : Promise.reject(refused);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#hub.wait(attempt, () => this.closed, limit).then((got) => {
      if (got.length > 0) return got[0];
      throw this.closed ? errorOf('CLOSED', 'pond is closed') : refused;
    });
  }

  /** @param {Packer} packer @param {string} topic @param {number} count @returns {Float64Array} */
  #sendPacked(packer, topic, count) {
    return this.#write((w) => w.sendPacked(topic, packer.meta.subarray(0, packer.m), packer.data.subarray(0, packer.pos), count));
  }

  /**
   * Reads records of one partition from `offset` (default: its start), at
   * most `maxRecords` (default 500) and about `maxBytes` (default 50 MiB).
   * @param {string} topic @param {number} [partition] @param {Record<string, any>} [options]
   */
  read(topic, partition = 0, options) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    let offset;
    let maxRecords = DEFAULT_MAX_RECORDS;
    let maxBytes = DEFAULT_MAX_BYTES;
    if (options != null) {
      const o = checkOptions(options, 'read options');
      checkKeys(o, new Set(['offset', 'maxRecords', 'maxBytes']), 'read');
      offset = checkOptNumber(o.offset, 'offset');
      if (o.maxRecords != null) maxRecords = checkNumber(o.maxRecords, 'maxRecords');
      if (o.maxBytes != null) maxBytes = checkNumber(o.maxBytes, 'maxBytes');
    }
    return unpackRecords(this.#read((w) => w.read(topic, p, offset, maxRecords, maxBytes)));
  }

  /** `{ startOffset, endOffset }` of a partition. @param {string} topic @param {number} [partition] */
  offsets(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = this.#read((w) => w.offsets(topic, p));
    return { startOffset: o[0], endOffset: o[1] };
  }

  /** The first offset whose timestamp is >= `timestampMs`, or null. @param {string} topic @param {number} partition @param {number | Date} timestampMs */
  offsetForTime(topic, partition, timestampMs) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const ts = checkTime(timestampMs, 'timestampMs');
    return this.#read((w) => w.offsetForTime(topic, p, ts)) ?? null;
  }

  /** Makes every offset below `beforeOffset` unreadable. @param {string} topic @param {number} partition @param {number} beforeOffset */
  deleteRecords(topic, partition, beforeOffset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const before = checkNumber(beforeOffset, 'beforeOffset');
    this.#write((w) => w.deleteRecords(topic, p, before));
  }

  /** Runs retention and compaction now (sends run them as they go). */
  maintain() {
    this.#write((w) => w.maintain());
  }

  /**
   * A member of consumer group `group` reading `topics`.
   * @param {Record<string, any>} options
   */
  consumer(options) {
    const a = consumerArgs(options);
    const c = this.#write((w) =>
      w.consumer(a.group, a.topics, a.autoOffsetReset, a.autoCommit, a.autoCommitIntervalMs, a.sessionTimeoutMs, a.assignor),
    );
    return new Consumer(kConsumer, c, this.#context(), a);
  }

  /**
   * A consumer of subscription `options.subscription` of `topic`
   * (created at the topic's start if missing).
   * @param {string} topic @param {Record<string, any>} options
   */
  queue(topic, options) {
    checkString(topic, 'topic');
    const a = queueArgs(options);
    const q = this.#write((w) =>
      w.queue(topic, a.subscription, a.ackTimeoutMs, a.maxDeliveries, a.deadLetterTopic, a.maxInFlight, a.startAtEnd),
    );
    return new Queue(kQueue, q, this.#context(), topic, a.subscription);
  }

  /** Subscriptions of a topic, sorted. @param {string} topic @returns {string[]} */
  subscriptions(topic) {
    checkString(topic, 'topic');
    return this.#read((w) => w.subscriptions(topic));
  }

  /** Deletes a subscription and its delivery state. @param {string} topic @param {string} subscription */
  deleteSubscription(topic, subscription) {
    checkString(topic, 'topic');
    checkString(subscription, 'subscription');
    this.#write((w) => w.deleteSubscription(topic, subscription));
  }

  /** What consumers and queues need from their pond. */
  #context() {
    return {
      hub: this.#hub,
      /** @param {boolean} wake */
      touched: (wake) => this.#touched(wake),
      closed: () => this.#closing !== null,
      now: () => this.#w.nowMs(),
    };
  }

  toString() {
    return `Pond { ${this.#idb === null ? 'memory' : `IndexedDB ${JSON.stringify(this.#idb.name)}`}${this.closed ? ', closed' : ''} }`;
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Object.defineProperty(Pond.prototype, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.close();
    },
    writable: true,
    configurable: true,
  });
}
