// Pond: the log side of the public API (topics, send, read, retention) and
// the factories of consumers (consumer.js) and queues (queue.js), over a
// backend: what a package gives for one pond (Node: the napi addon with
// waits on the thread pool; browsers: the wasm module, its wait hub and
// IndexedDB). The packages' `Pond` subclasses add how a pond is opened,
// flushed and closed.

import { BYTES, topicOptions } from '../backend.js';
import { translate, errorOf, call, write, settle, kCreate } from './internal.js';
import {
  typeName,
  checkString,
  checkData,
  checkNumber,
  checkOptNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkTimeout,
  checkOptBoolean,
  checkBackoff,
} from './check.js';
import { Packer, packNumber, metadata, unpack } from './records.js';
import { Consumer, consumerOptions } from './consumer.js';
import { Queue, queueOptions } from './queue.js';

/**
 * What a package gives for one pond. Every method may throw what its
 * native call throws (the JS layer maps it); waits return Promises.
 * Calls that change the pond run through `write` (internal.js): a
 * backend's own `write` where it has one (the browser's, which returns a
 * Promise: every writing call of the API then does), or at once, with
 * `changed` after.
 * @typedef {object} PondBackend
 * @property {(f: () => any, wake: boolean) => Promise<any>} [write] runs a writing call (f, synchronous native calls) where the
 *   package runs writes (wake: waiting polls and receives may find something after it)
 * @property {(wake: boolean) => void} changed the pond changed (wake: waiting polls and receives may find something)
 * @property {() => boolean} isClosed
 * @property {(name: string, options: Float64Array) => void} createTopic options' numbers in the order of `topicOptions()`
 * @property {() => string[]} topics
 * @property {() => string[]} groups
 * @property {(group: string) => string} describeGroup the group as JSON (`logpond_js::group_json`)
 * @property {(name: string) => boolean} hasTopic
 * @property {(name: string) => ArrayLike<number>} describe the configuration's numbers (that order), then four per partition
 * @property {(name: string) => void} deleteTopic
 * @property {(packer: Packer) => ArrayLike<number> | Promise<ArrayLike<number>>} send sends a sealed packer; `partition, offset, timestampMs` per record
 *   (a backend with `write` returns a Promise, having copied the packer)
 * @property {(packer: Packer, timeoutMs: number, stopped: () => boolean) => Promise<ArrayLike<number>>} sendWait the same, waiting out Backpressure (copies the packer before it returns)
 * @property {(topic: string, partition: number, offset: number | undefined, maxRecords: number, maxBytes: number) => import('./records.js').Packed} read
 * @property {(topic: string, partition: number) => ArrayLike<number>} offsets
 * @property {(topic: string, partition: number, timestampMs: number) => number | null | undefined} offsetForTime
 * @property {(topic: string, partition: number, beforeOffset: number) => void} deleteRecords
 * @property {() => void} maintain
 * @property {(topic: string) => string[]} subscriptions
 * @property {(topic: string, name: string) => void} deleteSubscription
 * @property {(topic: string, name: string) => string} describeSubscription the subscription as JSON (`logpond_js::subscription_json`)
 * @property {(topic: string, name: string, ackTimeoutMs?: number, maxDeliveries?: number, deadLetterTopic?: string, retryBackoffMs?: number[]) => string} updateSubscription
 *   the settings now stored, as JSON (`logpond_js::settings_json`)
 * @property {(options: Record<string, unknown>) => import('./consumer.js').ConsumerBackend} consumer
 * @property {(topic: string, options: Record<string, unknown>) => import('./queue.js').QueueBackend} queue
 */

const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

const SEND_MANY_KEYS = new Set(['timeoutMs', 'delayMs', 'ttlMs']);
const READ_KEYS = new Set(['offset', 'maxRecords', 'maxBytes']);
/** The options of `createTopic`, in the order the native side takes their numbers (it declares them). */
const TOPIC_OPTIONS = topicOptions();
const TOPIC_KEYS = new Set(TOPIC_OPTIONS);
const TOPIC_BOOLEANS = new Set(['compact', 'retainUntilAcked']);

/**
 * A send's `delayMs` and `ttlMs` (queues deliver its records no earlier /
 * no later than that long after the append), onto the packer.
 * @param {Packer} packer @param {Record<string, unknown>} o
 */
function schedule(packer, o) {
  if (o.delayMs != null) packer.delayMs = packNumber(o.delayMs, 'delayMs', -1);
  if (o.ttlMs != null) packer.ttlMs = packNumber(o.ttlMs, 'ttlMs', -1);
}

/**
 * The settings of a subscription as the JS API shows them.
 * @param {any} s the parsed `logpond_js::settings_json`
 */
function settingsOf(s) {
  return {
    ackTimeoutMs: s.ackTimeoutMs,
    maxDeliveries: s.maxDeliveries,
    deadLetterTopic: s.deadLetterTopic,
    retryBackoffMs: s.retryBackoffMs,
  };
}

const UPDATE_KEYS = new Set(['ackTimeoutMs', 'maxDeliveries', 'deadLetterTopic', 'retryBackoffMs']);

/**
 * One `createTopic` option as its number crosses: NaN when absent,
 * booleans as 1 or 0.
 * @param {unknown} v @param {string} name
 */
function topicNumber(v, name) {
  if (TOPIC_BOOLEANS.has(name)) {
    const flag = checkOptBoolean(v, name);
    return flag === undefined ? NaN : Number(flag);
  }
  const n = checkOptNumber(v, name);
  if (n === undefined) return NaN;
  if (Number.isNaN(n)) throw errorOf('INVALID_ARGUMENT', `${name} must be an integer, got NaN`);
  return n;
}

/**
 * Packs the records of every send: calls are synchronous, so one is
 * enough, unless user code run while packing (a getter) sends again.
 */
const PACKER = new Packer();
let packerBusy = false;

/** @param {string} topic */
function acquirePacker(topic) {
  const packer = packerBusy ? new Packer() : PACKER;
  packerBusy = true;
  packer.reset(topic);
  return packer;
}

/** @param {Packer} packer */
function releasePacker(packer) {
  if (packer === PACKER) {
    packerBusy = false;
    packer.shrink();
  }
}

/** An embeddable event broker: one pond, over the storage its package opened. */
export class Pond {
  /** @type {PondBackend} */
  #b;

  /** @private Use the package's factories (`Pond.memory()`, ...). */
  constructor(/** @type {symbol} */ token, /** @type {PondBackend} */ backend) {
    if (token !== kCreate) throw new TypeError('use Pond.memory() or another Pond factory to get a Pond');
    this.#b = backend;
  }

  /** Creates a topic; `TopicExists` if it exists. @param {string} name @param {Record<string, any>} [options] */
  createTopic(name, options) {
    checkString(name, 'topic name');
    const o = checkOptions(options, 'createTopic options');
    checkKeys(o, TOPIC_KEYS, 'createTopic');
    const numbers = Float64Array.from(TOPIC_OPTIONS, (k) => topicNumber(o[k], k));
    return write(this.#b, true, () => this.#b.createTopic(name, numbers));
  }

  /** User topics, sorted. @returns {string[]} */
  topics() {
    return call(() => this.#b.topics());
  }

  /** @param {string} name */
  hasTopic(name) {
    checkString(name, 'topic name');
    return call(() => this.#b.hasTopic(name));
  }

  /** A topic's partitions (offsets, bytes) and configuration. @param {string} name */
  describe(name) {
    checkString(name, 'topic name');
    const n = call(() => this.#b.describe(name));
    /** @type {Record<string, number | boolean | null>} */
    const config = {};
    TOPIC_OPTIONS.forEach((k, i) => {
      config[k] = TOPIC_BOOLEANS.has(k) ? n[i] === 1 : Number.isNaN(n[i]) ? null : n[i];
    });
    const partitions = [];
    for (let i = TOPIC_OPTIONS.length; i < n.length; i += 4) {
      partitions.push({ partition: n[i], startOffset: n[i + 1], endOffset: n[i + 2], bytes: n[i + 3] });
    }
    return { name, partitions, config };
  }

  /**
   * A queue subscription's backlog, in-flight, dead-lettered, parked and
   * expired counts, the age of its oldest unacked record (ms) and its
   * stored settings — read without attaching to it.
   * @param {string} topic @param {string} subscription
   */
  describeSubscription(topic, subscription) {
    checkString(topic, 'topic');
    checkString(subscription, 'subscription');
    const s = JSON.parse(call(() => this.#b.describeSubscription(topic, subscription)));
    return {
      topic: s.topic,
      subscription: s.subscription,
      backlog: s.backlog,
      inFlight: s.inFlight,
      deadLettered: s.deadLettered,
      parked: s.parked,
      expired: s.expired,
      oldestUnackedAgeMs: s.oldestUnackedAgeMs,
      settings: settingsOf(s.settings),
    };
  }

  /**
   * Changes a subscription's stored settings; every consumer, in any
   * process, uses them from its next call. An absent option stays as it
   * is; `null` removes `maxDeliveries`, `deadLetterTopic` or
   * `retryBackoffMs`. Returns the settings now stored.
   * @param {string} topic @param {string} subscription
   * @param {{ ackTimeoutMs?: number, maxDeliveries?: number | null, deadLetterTopic?: string | null, retryBackoffMs?: [number, number] | null }} options
   */
  updateSubscription(topic, subscription, options) {
    checkString(topic, 'topic');
    checkString(subscription, 'subscription');
    const o = checkOptions(options, 'updateSubscription options');
    checkKeys(o, UPDATE_KEYS, 'updateSubscription');
    // A null (remove) crosses as the core's "none": 0, "" or [0, 0].
    const ack = o.ackTimeoutMs == null ? undefined : checkNumber(o.ackTimeoutMs, 'ackTimeoutMs');
    const max = o.maxDeliveries === null ? 0 : o.maxDeliveries === undefined ? undefined : checkNumber(o.maxDeliveries, 'maxDeliveries');
    const dlq = o.deadLetterTopic === null ? '' : o.deadLetterTopic === undefined ? undefined : checkString(o.deadLetterTopic, 'deadLetterTopic');
    const backoff = o.retryBackoffMs === null ? [0, 0] : o.retryBackoffMs === undefined ? undefined : checkBackoff(o.retryBackoffMs);
    const s = write(this.#b, true, () => this.#b.updateSubscription(topic, subscription, ack, max, dlq, backoff));
    return settle(s, (json) => settingsOf(JSON.parse(json)));
  }

  /** The consumer groups the pond knows, sorted; joins none. @returns {string[]} */
  groups() {
    return call(() => this.#b.groups());
  }

  /**
   * A consumer group's generation, members and their partitions, and per
   * partition its committed offset, end and lag — read without joining
   * the group (nothing rebalances).
   * @param {string} group
   */
  describeGroup(group) {
    checkString(group, 'group');
    const g = JSON.parse(call(() => this.#b.describeGroup(group)));
    return {
      group: g.group,
      generation: g.generation,
      members: g.members.map((/** @type {any} */ m) => ({ memberId: m.memberId, assignment: m.assignment })),
      offsets: g.offsets.map((/** @type {any} */ o) => ({
        topic: o.topic,
        partition: o.partition,
        committed: o.committed,
        end: o.end,
        lag: o.lag,
        consumer: o.consumer,
      })),
    };
  }

  /** Deletes a topic and its records. @param {string} name */
  deleteTopic(name) {
    checkString(name, 'topic name');
    return write(this.#b, true, () => this.#b.deleteTopic(name));
  }

  /**
   * Appends one record. `value` may be null (a tombstone in a compacted
   * topic). Returns where it landed; with `timeoutMs`, a Promise of it
   * that waits out `Backpressure`.
   * @param {string} topic @param {unknown} value @param {Record<string, any>} [options]
   */
  send(topic, value, options) {
    if (typeof topic !== 'string') checkString(topic, 'topic');
    if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
      value = checkData(value, 'value');
    }
    const packer = acquirePacker(topic);
    try {
      return this.#send(packer, topic, /** @type {string | Uint8Array | null} */ (value), options);
    } finally {
      releasePacker(packer);
    }
  }

  /** @param {Packer} packer @param {string} topic @param {string | Uint8Array | null} value @param {any} options */
  #send(packer, topic, value, options) {
    if (options == null) {
      packer.record(value, null, null, NaN, NaN, -1);
    } else {
      const o = checkOptions(options, 'send options');
      const key = o.key == null ? null : checkData(o.key, 'key');
      packer.record(
        value,
        key,
        o.headers,
        packNumber(o.partition, 'partition', -1),
        packNumber(o.timestampMs, 'timestampMs', -1),
        -1,
      );
      schedule(packer, o);
    }
    if (options != null && options.timeoutMs != null) {
      return this.#sendWaiting(packer, 1, options.timeoutMs).then((meta) => metadata(topic, meta, 1)[0]);
    }
    return settle(this.#sendPacked(packer, 1), (meta) => ({ topic, partition: meta[0], offset: meta[1], timestampMs: meta[2] }));
  }

  /**
   * Appends records (each a value, or `{ key, value, headers, partition,
   * timestampMs }`): those bound for one partition go in one atomic batch,
   * in order; all are checked before any is written.
   * @param {string} topic @param {unknown} records @param {{ timeoutMs?: number }} [options]
   */
  sendMany(topic, records, options) {
    checkString(topic, 'topic');
    if (!Array.isArray(records)) {
      throw new TypeError(`sendMany records must be an array, got ${typeName(records)}`);
    }
    let timeoutMs;
    if (options != null) {
      const o = checkOptions(options, 'sendMany options');
      checkKeys(o, SEND_MANY_KEYS, 'sendMany');
      timeoutMs = o.timeoutMs ?? undefined;
    }
    const packer = acquirePacker(topic);
    try {
      if (options != null) schedule(packer, /** @type {Record<string, unknown>} */ (options));
      const n = records.length;
      for (let i = 0; i < n; i++) {
        const r = records[i];
        if (typeof r === 'string' || r instanceof Uint8Array) {
          packer.record(r, null, null, NaN, NaN, i);
          continue;
        }
        if (r instanceof ArrayBuffer || ArrayBuffer.isView(r)) {
          packer.record(checkData(r, `sendMany record ${i}`), null, null, NaN, NaN, i);
          continue;
        }
        if (r === null || typeof r !== 'object' || Array.isArray(r)) {
          throw new TypeError(
            `sendMany record ${i} must be a ${BYTES}, string or { key, value, headers, partition, timestampMs } object, got ${typeName(r)}`,
          );
        }
        const value = r.value ?? null;
        const key = r.key ?? null;
        packer.record(
          value === null || typeof value === 'string' || value instanceof Uint8Array ? value : checkData(value, `record ${i} value`),
          key === null || typeof key === 'string' || key instanceof Uint8Array ? key : checkData(key, `record ${i} key`),
          r.headers,
          packNumber(r.partition, 'partition', i),
          packNumber(r.timestampMs, 'timestampMs', i),
          i,
        );
      }
      if (timeoutMs !== undefined) {
        return this.#sendWaiting(packer, n, timeoutMs).then((meta) => metadata(topic, meta, n));
      }
      return settle(this.#sendPacked(packer, n), (meta) => metadata(topic, meta, n));
    } finally {
      releasePacker(packer);
    }
  }

  /** @param {Packer} packer @param {number} count */
  #sendPacked(packer, count) {
    packer.seal(count);
    // `write` without its closure: this is the per-record path.
    const b = this.#b;
    try {
      return b.send(packer);
    } catch (e) {
      throw translate(e);
    } finally {
      b.changed(true);
    }
  }

  /**
   * Sends what `packer` holds, waiting up to `timeoutMs` while it meets
   * `Backpressure` (the backend copies the packer first: it goes back to
   * the pool when the calling method returns).
   * @param {Packer} packer @param {number} count @param {unknown} timeoutMs
   * @returns {Promise<ArrayLike<number>>}
   */
  #sendWaiting(packer, count, timeoutMs) {
    const limit = checkTimeout(timeoutMs, 'timeoutMs');
    packer.seal(count);
    try {
      return this.#b.sendWait(packer, limit, () => this.closed).catch((e) => {
        throw translate(e);
      });
    } catch (e) {
      return Promise.reject(translate(e));
    }
  }

  /**
   * Reads records of one partition from `offset` (default: the partition's
   * start offset), at most `maxRecords` (default 500) and about `maxBytes`
   * (default 50 MiB; at least one record when any is there).
   * @param {string} topic @param {number} [partition] @param {{ offset?: number, maxRecords?: number, maxBytes?: number }} [options]
   */
  read(topic, partition = 0, options) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    let offset;
    let maxRecords = DEFAULT_MAX_RECORDS;
    let maxBytes = DEFAULT_MAX_BYTES;
    if (options != null) {
      const o = checkOptions(options, 'read options');
      checkKeys(o, READ_KEYS, 'read');
      offset = checkOptNumber(o.offset, 'offset');
      if (o.maxRecords != null) maxRecords = checkNumber(o.maxRecords, 'maxRecords');
      if (o.maxBytes != null) maxBytes = checkNumber(o.maxBytes, 'maxBytes');
    }
    let packed;
    try {
      packed = this.#b.read(topic, p, offset, maxRecords, maxBytes);
    } catch (e) {
      throw translate(e);
    }
    return unpack(packed, 0, topic, null);
  }

  /** `{ startOffset, endOffset }` of a partition: the first readable offset and the next to be written. */
  offsets(/** @type {string} */ topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = call(() => this.#b.offsets(topic, p));
    return { startOffset: o[0], endOffset: o[1] };
  }

  /** The first offset whose record's timestamp is >= `timestampMs`, or null when all are older. */
  offsetForTime(/** @type {string} */ topic, /** @type {number} */ partition, /** @type {number | Date} */ timestampMs) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const ts = checkTime(timestampMs, 'timestampMs');
    return call(() => this.#b.offsetForTime(topic, p, ts)) ?? null;
  }

  /** Makes every offset below `beforeOffset` unreadable (frees whole segments). */
  deleteRecords(/** @type {string} */ topic, /** @type {number} */ partition, /** @type {number} */ beforeOffset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const before = checkNumber(beforeOffset, 'beforeOffset');
    return write(this.#b, true, () => this.#b.deleteRecords(topic, p, before));
  }

  /** Runs retention and compaction now (appends run them as they go). */
  maintain() {
    return write(this.#b, true, () => this.#b.maintain());
  }

  /**
   * A consumer: joins consumer group `group` for `topics` (a name or a
   * list). `autoOffsetReset` ('latest' by default, 'earliest' or 'none')
   * says where a partition without a committed offset starts;
   * `autoCommit` (default true) commits positions every
   * `autoCommitIntervalMs` (5000) of polling, before a partition is taken
   * away and on close; a member that does not poll for `sessionTimeoutMs`
   * (10000) leaves the group; `assignor` is 'cooperative-sticky'
   * (default), 'range' or 'round-robin'.
   * @param {Record<string, any>} options
   */
  consumer(options) {
    const o = consumerOptions(options);
    const b = this.#b;
    return settle(write(b, true, () => b.consumer(o)), (c) => new Consumer(kCreate, this, b, o, c));
  }

  /**
   * A queue consumer of subscription `options.subscription` (or `options`,
   * a name alone) on `topic` (the subscription is created when missing, at
   * the topic's start, or its end with `startAtEnd`). `ackTimeoutMs`
   * (30000) leases each delivery; after `maxDeliveries` a record goes to
   * `deadLetterTopic` (created when missing) or is parked; `maxInFlight`
   * (100) caps this consumer's unacknowledged deliveries.
   * @param {string} topic @param {string | Record<string, any>} options
   */
  queue(topic, options) {
    checkString(topic, 'topic');
    const o = queueOptions(options);
    const b = this.#b;
    return settle(write(b, true, () => b.queue(topic, o)), (q) => new Queue(kCreate, this, b, topic, o, q));
  }

  /** The subscriptions of a topic, sorted. @param {string} topic @returns {string[]} */
  subscriptions(topic) {
    checkString(topic, 'topic');
    return call(() => this.#b.subscriptions(topic));
  }

  /** Deletes a subscription and its delivery state (`TopicNotFound` when there is none). */
  deleteSubscription(/** @type {string} */ topic, /** @type {string} */ name) {
    checkString(topic, 'topic');
    checkString(name, 'subscription name');
    return write(this.#b, true, () => this.#b.deleteSubscription(topic, name));
  }

  /** Whether `close()` was called. */
  get closed() {
    return this.#b.isClosed();
  }
}

