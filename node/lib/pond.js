'use strict';
// Pond: the log side (topics, send, read, retention), and the factories
// of consumers (lib/consumer.js) and queues (lib/queue.js).

const { fileURLToPath } = require('node:url');
const native = require('./native');
const { translate, errorOf } = require('./errors');
const { clockHandle } = require('./clock');
const consumer = require('./consumer');
const queue = require('./queue');
const {
  typeName,
  checkString,
  checkData,
  checkNumber,
  checkOptNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  Packer,
  packNumber,
  readNumbers,
  unpackRecords,
} = require('./convert');
const { SLICE_MS, checkTimeout, failure } = require('./wait');

const { sendPacked } = native;

const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

const OPEN_KEYS = new Set(['durability', 'clock', 'groupAccess']);
const MEMORY_KEYS = new Set(['clock']);
const SEND_MANY_KEYS = new Set(['timeoutMs']);
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
const TOPIC_BOOLEAN_KEYS = ['compact', 'retainUntilAcked'];
const TOPIC_KEYS = new Set([...TOPIC_NUMBER_KEYS, ...TOPIC_BOOLEAN_KEYS]);

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

/** Guards the constructor: ponds come from `Pond.open` and `Pond.memory`. */
const kCreate = Symbol('logpond.create');

/** @type {(pond: Pond) => any} */
let handleOf;

/**
 * `{ topic, partition, offset, timestampMs }` of `n` sent records, from the
 * numbers the native side wrote (three per record).
 * @param {string} topic @param {ArrayLike<number>} meta @param {number} n
 */
function metadata(topic, meta, n) {
  const result = [];
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    result.push({ topic, partition: meta[j], offset: meta[j + 1], timestampMs: meta[j + 2] });
  }
  return result;
}

/** An embeddable event broker over one directory (or memory). */
class Pond {
  #handle;
  #where;

  /** @private Use `Pond.open(path)` or `Pond.memory()`. */
  constructor(token, handle, where) {
    if (token !== kCreate) throw new TypeError('use Pond.open(path) or Pond.memory() to get a Pond');
    this.#handle = handle;
    this.#where = where;
  }

  /**
   * Opens (creating if needed) the pond in directory `path`. Only one open
   * handle per directory at a time (else `PondLocked`).
   */
  static open(path, options) {
    if (path instanceof URL) path = fileURLToPath(path);
    checkString(path, 'path');
    if (path.length === 0) throw errorOf('INVALID_ARGUMENT', 'path must not be empty');
    const o = checkOptions(options, 'Pond.open options');
    checkKeys(o, OPEN_KEYS, 'Pond.open');
    const durability = o.durability ?? 'os';
    checkString(durability, 'durability');
    if (durability !== 'os' && durability !== 'fsync') {
      throw errorOf('INVALID_ARGUMENT', `durability must be 'os' or 'fsync', got '${durability}'`);
    }
    const clock = clockHandle(o.clock, 'clock');
    const groupAccess = checkOptBoolean(o.groupAccess, 'groupAccess') ?? false;
    try {
      return new Pond(kCreate, native.pondOpen(path, durability === 'fsync', clock, groupAccess), path);
    } catch (e) {
      throw translate(e);
    }
  }

  /** A pond in memory: nothing is kept after close. */
  static memory(options) {
    const o = checkOptions(options, 'Pond.memory options');
    checkKeys(o, MEMORY_KEYS, 'Pond.memory');
    const clock = clockHandle(o.clock, 'clock');
    try {
      return new Pond(kCreate, native.pondMemory(clock), ':memory:');
    } catch (e) {
      throw translate(e);
    }
  }

  /** Creates a topic; `TopicExists` if it exists. */
  createTopic(name, options) {
    checkString(name, 'topic name');
    const o = checkOptions(options, 'createTopic options');
    checkKeys(o, TOPIC_KEYS, 'createTopic');
    /** @type {Record<string, number | boolean>} */
    const config = {};
    for (const k of TOPIC_NUMBER_KEYS) {
      const v = checkOptNumber(o[k], k);
      if (v !== undefined) config[k] = v;
    }
    for (const k of TOPIC_BOOLEAN_KEYS) {
      const v = checkOptBoolean(o[k], k);
      if (v !== undefined) config[k] = v;
    }
    try {
      native.createTopic(this.#handle, name, config);
    } catch (e) {
      throw translate(e);
    }
  }

  /** User topics, sorted. */
  topics() {
    try {
      return native.topics(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  hasTopic(name) {
    checkString(name, 'topic name');
    try {
      return native.hasTopic(this.#handle, name);
    } catch (e) {
      throw translate(e);
    }
  }

  /** A topic's partitions (offsets, bytes) and configuration. */
  describe(name) {
    checkString(name, 'topic name');
    let info;
    try {
      info = native.describe(this.#handle, name);
    } catch (e) {
      throw translate(e);
    }
    const c = info.config;
    return {
      name: info.name,
      partitions: info.partitions.map((p) => ({
        partition: p.partition,
        startOffset: p.startOffset,
        endOffset: p.endOffset,
        bytes: p.bytes,
      })),
      config: {
        partitions: c.partitions,
        retentionMs: c.retentionMs ?? null,
        retentionBytes: c.retentionBytes ?? null,
        retentionRecords: c.retentionRecords ?? null,
        compact: c.compact,
        deleteRetentionMs: c.deleteRetentionMs,
        maxRecordBytes: c.maxRecordBytes,
        maxBacklog: c.maxBacklog ?? null,
        segmentBytes: c.segmentBytes,
        segmentMs: c.segmentMs,
        retainUntilAcked: c.retainUntilAcked,
      },
    };
  }

  /** Deletes a topic and its records. */
  deleteTopic(name) {
    checkString(name, 'topic name');
    try {
      native.deleteTopic(this.#handle, name);
    } catch (e) {
      throw translate(e);
    }
  }

  /**
   * Appends one record. `value` may be null (a tombstone in a compacted
   * topic). Returns where it landed.
   */
  send(topic, value, options) {
    if (typeof topic !== 'string') checkString(topic, 'topic');
    if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw new TypeError(`value must be a Buffer, Uint8Array, string or null, got ${typeName(value)}`);
    }
    const packer = acquirePacker(topic);
    try {
      return this.#send(packer, topic, value, options);
    } finally {
      releasePacker(packer);
    }
  }

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
    }
    if (options != null && options.timeoutMs != null) {
      return this.#sendWaiting(packer, topic, 1, options.timeoutMs).then((meta) => metadata(topic, meta, 1)[0]);
    }
    this.#sendPacked(packer, topic, 1);
    const meta = packer.meta;
    return { topic, partition: meta[0], offset: meta[1], timestampMs: meta[2] };
  }

  /**
   * Appends records (each a value, or `{ key, value, headers, partition,
   * timestampMs }`): those bound for one partition go in one atomic batch,
   * in order; all are checked before any is written.
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
      return this.#sendMany(packer, topic, records, timeoutMs);
    } finally {
      releasePacker(packer);
    }
  }

  /**
   * Sends what `packer` holds, waiting (off the event loop, a slice at a
   * time) up to `timeoutMs` while it meets `Backpressure`. Resolves with
   * the metadata numbers. The packed bytes are copied first: the packer
   * goes back to the pool when the calling method returns.
   * @param {Packer} packer @param {string} topic @param {number} count @param {unknown} timeoutMs
   * @returns {Promise<Float64Array>}
   */
  #sendWaiting(packer, topic, count, timeoutMs) {
    const limit = checkTimeout(timeoutMs, 'timeoutMs');
    packer.seal(count);
    const buf = Buffer.from(packer.whole);
    const h = this.#handle;
    const deadline = performance.now() + limit;
    const attempt = async () => {
      for (;;) {
        const left = deadline - performance.now();
        const slice = left > 0 ? Math.min(SLICE_MS, Math.ceil(left)) : 0;
        const r = await native.sendPackedWait(h, buf, slice);
        if (Array.isArray(r)) return r[1];
        const done = r.code !== 'BACKPRESSURE' || slice === 0 || performance.now() >= deadline || this.closed;
        if (done) throw failure(r);
      }
    };
    return attempt();
  }

  #sendMany(packer, topic, records, timeoutMs) {
    const n = records.length;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      if (typeof r === 'string' || r instanceof Uint8Array) {
        packer.record(r, null, null, NaN, NaN, i);
        continue;
      }
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        throw new TypeError(
          `sendMany record ${i} must be a Buffer, Uint8Array, string or { key, value, headers, partition, timestampMs } object, got ${typeName(r)}`,
        );
      }
      const value = r.value ?? null;
      if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
        checkData(value, `record ${i} value`); // throws the TypeError
      }
      const key = r.key ?? null;
      if (key !== null && typeof key !== 'string' && !(key instanceof Uint8Array)) {
        checkData(key, `record ${i} key`);
      }
      packer.record(
        value,
        key,
        r.headers,
        packNumber(r.partition, 'partition', i),
        packNumber(r.timestampMs, 'timestampMs', i),
        i,
      );
    }
    if (timeoutMs !== undefined) {
      return this.#sendWaiting(packer, topic, n, timeoutMs).then((meta) => metadata(topic, meta, n));
    }
    this.#sendPacked(packer, topic, n);
    return metadata(topic, packer.meta, n);
  }

  /** @param {Packer} packer @param {string} topic @param {number} count */
  #sendPacked(packer, topic, count) {
    try {
      // The whole scratch goes: the native side reads only what the
      // metadata describes (slicing would allocate a view per call).
      packer.seal(count);
      sendPacked(this.#handle, packer.whole);
    } catch (e) {
      throw translate(e);
    }
  }

  /**
   * Reads records of one partition from `offset` (default: the partition's
   * start offset), at most `maxRecords` (default 500) and about `maxBytes`
   * (default 50 MiB; at least one record when any is there).
   */
  read(topic, partition = 0, options) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    let offset;
    let maxRecords = DEFAULT_MAX_RECORDS;
    let maxBytes = DEFAULT_MAX_BYTES;
    if (options != null) {
      const o = checkOptions(options, 'read options');
      offset = checkOptNumber(o.offset, 'offset');
      if (o.maxRecords != null) maxRecords = checkNumber(o.maxRecords, 'maxRecords');
      if (o.maxBytes != null) maxBytes = checkNumber(o.maxBytes, 'maxBytes');
    }
    const scratch = readNumbers(typeof maxRecords === 'number' ? maxRecords : 0);
    let result;
    try {
      result = native.read(this.#handle, topic, p, offset, maxRecords, maxBytes, scratch);
    } catch (e) {
      throw translate(e);
    }
    return unpackRecords(topic, result);
  }

  /** `{ startOffset, endOffset }` of a partition: the first readable offset and the next to be written. */
  offsets(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    let o;
    try {
      o = native.offsets(this.#handle, topic, p);
    } catch (e) {
      throw translate(e);
    }
    return { startOffset: o[0], endOffset: o[1] };
  }

  /** The first offset whose record's timestamp is >= `timestampMs`, or null when all are older. */
  offsetForTime(topic, partition, timestampMs) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const ts = checkTime(timestampMs, 'timestampMs');
    try {
      return native.offsetForTime(this.#handle, topic, p, ts);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Makes every offset below `beforeOffset` unreadable (frees whole segments). */
  deleteRecords(topic, partition, beforeOffset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const before = checkNumber(beforeOffset, 'beforeOffset');
    try {
      native.deleteRecords(this.#handle, topic, p, before);
    } catch (e) {
      throw translate(e);
    }
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
   */
  consumer(options) {
    return new consumer.Consumer(consumer.kCreate, this, this.#handle, options);
  }

  /**
   * A queue consumer of subscription `options.subscription` (or `options`,
   * a name alone) on `topic`
   * (the subscription is created when missing, at the topic's start, or its
   * end with `startAtEnd`). `ackTimeoutMs` (30000) leases each delivery;
   * after `maxDeliveries` a record goes to `deadLetterTopic` (created when
   * missing) or is parked; `maxInFlight` (100) caps this consumer's
   * unacknowledged deliveries.
   */
  queue(topic, options) {
    return new queue.Queue(queue.kCreate, this, this.#handle, topic, options);
  }

  /** The subscriptions of a topic, sorted. */
  subscriptions(topic) {
    checkString(topic, 'topic');
    try {
      return native.subscriptions(this.#handle, topic);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Deletes a subscription and its delivery state (`TopicNotFound` when there is none). */
  deleteSubscription(topic, name) {
    checkString(topic, 'topic');
    checkString(name, 'subscription name');
    try {
      native.deleteSubscription(this.#handle, topic, name);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Runs retention and compaction now (appends run them as they go). */
  maintain() {
    try {
      native.maintain(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Makes every append so far durable (fsync), whatever the durability mode. */
  flush() {
    try {
      native.flush(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Closes the pond and releases its directory; later calls throw `Closed`. Closing twice is harmless. */
  close() {
    try {
      native.close(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Whether `close()` was called. */
  get closed() {
    return native.isClosed(this.#handle);
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Pond { ${this.#where}${this.closed ? ', closed' : ''} }`;
  }

  static {
    handleOf = (pond) => pond.#handle;
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(Pond.prototype, Symbol.dispose, {
    value: function dispose() {
      this.close();
    },
    writable: true,
    configurable: true,
  });
}

/** Sets `arr[i] = v` on a lazily created, dense array (null for the gaps). */
function setAt(arr, i, v) {
  const a = arr ?? [];
  while (a.length < i) a.push(null);
  a.push(v);
  return a;
}

module.exports = { Pond, handleOf };
