'use strict';
// Consumer: one member of a consumer group (the log side). Waits (`poll`,
// `for await`) run off the event loop (see lib/wait.js); everything else
// is synchronous.
//
// Iteration uses the core's (`next_record`): the core fetches in batches
// but a partition's position (so commits, auto-commits and the hand-over
// commit of a rebalance) moves only past the records handed out, and the
// loop asks for one record per step, so positions count exactly what the
// loop yielded. A record that is there is taken synchronously (it never
// waits); when none is, the wait runs on the thread pool in slices.

const native = require('./native');
const { translate, errorOf } = require('./errors');
const {
  typeName,
  checkString,
  checkNumber,
  checkOptNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  unpackBatch,
} = require('./convert');
const { waitOptions, waitSliced } = require('./wait');

/** Records a `for await` loop takes in a row before it lets the event loop turn. */
const ITER_TURN = 256;
/** The scratch of a loop: f64 slots (3 + a topic index and 6 + 2 per header) and bytes. */
const ITER_SLOTS = 3 + 7 + 2 * 16;
const ITER_BYTES = 4096;
const DEFAULT_MAX_RECORDS = 500;

const CONSUMER_KEYS = new Set([
  'group',
  'topics',
  'autoOffsetReset',
  'autoCommit',
  'autoCommitIntervalMs',
  'sessionTimeoutMs',
  'assignor',
]);

/** Guards the constructor: consumers come from `pond.consumer(...)`. */
const kCreate = Symbol('logpond.consumer');

/**
 * The native options of `pond.consumer(options)`, type-checked.
 * @param {unknown} options
 */
function consumerOptions(options) {
  if (options == null) throw new TypeError('pond.consumer needs options: { group, topics }');
  const o = checkOptions(options, 'consumer options');
  checkKeys(o, CONSUMER_KEYS, 'pond.consumer');
  const group = checkString(o.group, 'group');
  let topics = o.topics;
  if (typeof topics === 'string') topics = [topics];
  if (!Array.isArray(topics)) {
    throw new TypeError(`topics must be a string or an array of strings, got ${typeName(topics)}`);
  }
  topics = topics.map((t, i) => checkString(t, `topics[${i}]`));
  /** @type {Record<string, unknown>} */
  const out = { group, topics };
  for (const k of ['autoOffsetReset', 'assignor']) {
    if (o[k] != null) out[k] = checkString(o[k], k);
  }
  const autoCommit = checkOptBoolean(o.autoCommit, 'autoCommit');
  if (autoCommit !== undefined) out.autoCommit = autoCommit;
  for (const k of ['autoCommitIntervalMs', 'sessionTimeoutMs']) {
    const v = checkOptNumber(o[k], k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A member of a consumer group: it reads the partitions the group assigns
 * it, tracks a position in each, and commits offsets. Made by
 * `pond.consumer({ group, topics, ... })`.
 */
class Consumer {
  #handle;
  #pond;
  #group;
  /** @type {readonly string[]} */
  #topics;
  #closed = false;

  /** @private Use `pond.consumer(options)`. */
  constructor(token, pond, pondHandle, options) {
    if (token !== kCreate) throw new TypeError('use pond.consumer({ group, topics }) to get a Consumer');
    const o = consumerOptions(options);
    try {
      this.#handle = native.consumerCreate(pondHandle, o);
    } catch (e) {
      throw translate(e);
    }
    this.#pond = pond;
    this.#group = /** @type {string} */ (o.group);
    this.#topics = Object.freeze([.../** @type {string[]} */ (o.topics)]);
  }

  /** The group id. */
  get group() {
    return this.#group;
  }

  /** The subscribed topics. */
  get topics() {
    return this.#topics;
  }

  /** Whether this consumer (or its pond) is closed. */
  get closed() {
    return this.#closed || this.#pond.closed;
  }

  /** This member's id in its group (it changes when the member rejoins after a session timeout). */
  get memberId() {
    return this.#call(() => native.consumerMember(this.#handle))[0];
  }

  /** The group's generation: it grows with every rebalance. */
  get generation() {
    return this.#call(() => native.consumerMember(this.#handle))[1];
  }

  /** @template T @param {() => T} f @returns {T} */
  #call(f) {
    if (this.#closed) throw errorOf('CLOSED', 'this consumer is closed');
    try {
      return f();
    } catch (e) {
      throw translate(e);
    }
  }

  /**
   * Up to `maxRecords` (default 500) records from the assigned partitions.
   * With `timeoutMs` (default 0; `Infinity`: no limit) it waits for
   * records to arrive, off the event loop. Rejects with `Closed` when the
   * consumer is closed before records come.
   * @param {{ maxRecords?: number, timeoutMs?: number }} [options]
   */
  async poll(options) {
    const { count, timeoutMs } = waitOptions(options, 'poll', 'maxRecords', DEFAULT_MAX_RECORDS);
    if (this.#closed) throw errorOf('CLOSED', 'this consumer is closed');
    const records = await this.#fetch(count, timeoutMs);
    if (records.length === 0 && this.closed) throw this.#closedError();
    return records;
  }

  /** Why a wait ended empty: this consumer or its pond closed. */
  #closedError() {
    return this.#closed ? errorOf('CLOSED', 'this consumer is closed') : errorOf('CLOSED', 'pond is closed');
  }

  /** Polls natively (on the thread pool). @param {number} max @param {number} timeoutMs */
  async #fetch(max, timeoutMs) {
    const h = this.#handle;
    let r;
    try {
      r = await waitSliced((ms) => native.consumerPoll(h, max, ms), timeoutMs, () => this.closed);
    } catch (e) {
      throw translate(e);
    }
    return unpackBatch(r[0], r[1], 1, this.#topics, null);
  }

  /**
   * Records one at a time, waiting (off the event loop) when there are
   * none; the loop ends when the consumer or its pond is closed. Each step
   * takes one record from the core, so positions, `lag` and commits count
   * exactly the records the loop yielded; leaving it (`break`) keeps the
   * consumer open, and the next `poll` or loop goes on right after them.
   *
   * A hand-written iterator rather than an async generator: a generator's
   * resumption costs about as much again per record as the rest of the loop.
   * @returns {AsyncIterableIterator<any>}
   */
  [Symbol.asyncIterator]() {
    const h = this.#handle;
    const topics = this.#topics;
    let ended = false;
    /** Records taken in a row without the event loop turning. */
    let streak = 0;
    const finish = () => {
      ended = true;
      return { value: undefined, done: true };
    };
    /** A failed native call: the end of the loop when closed, else the error. @param {unknown} e */
    const failed = (e) => {
      const err = translate(e);
      if (/** @type {any} */ (err)?.code === 'CLOSED') return finish();
      ended = true;
      throw err;
    };
    /** @param {[Buffer, Float64Array]} r */
    const step = (r) => ({ value: unpackBatch(r[0], r[1], 1, topics, null)[0], done: false });
    // A record taken at once lands here (see `consumerNextRecord`): the
    // slots' count, the record's numbers' count and bytes' length, its
    // numbers, then (after the slots) its bytes.
    const scratchBytes = Buffer.alloc(ITER_SLOTS * 8 + ITER_BYTES);
    const scratch = new Float64Array(scratchBytes.buffer, scratchBytes.byteOffset, ITER_SLOTS);
    scratch[0] = ITER_SLOTS;
    /** The record there is now (never waits), or null. */
    const take = () => {
      const r = native.consumerNextRecord(h, scratchBytes);
      if (r === null) return null;
      if (r !== true) return step(r);
      const length = scratch[2];
      // A copy (small: from Node's buffer pool), as records outlive the scratch.
      const data = Buffer.allocUnsafe(length);
      scratchBytes.copy(data, 0, ITER_SLOTS * 8, ITER_SLOTS * 8 + length);
      return { value: unpackBatch(data, scratch, 1, topics, null, 3, 3 + scratch[1])[0], done: false };
    };
    /** Lets the event loop turn when due, then waits (on the pool) until a record comes or the consumer closes. */
    const slow = async () => {
      try {
        if (streak >= ITER_TURN) {
          streak = 0;
          await new Promise(setImmediate);
          if (ended) return finish();
          const r = take();
          if (r !== null) return r;
        }
        for (;;) {
          if (ended || this.closed) return finish();
          streak = 0; // the event loop turns while the pool waits
          const r = await waitSliced((ms) => native.consumerNextRecordWait(h, ms), Infinity, () => this.closed);
          // A record handed out is yielded even if the consumer closed meanwhile.
          if (r[1].length > 0) return step(r);
        }
      } catch (e) {
        return failed(e);
      }
    };
    return {
      next: () => {
        if (ended) return Promise.resolve(finish());
        if (streak < ITER_TURN) {
          let r;
          try {
            r = take();
          } catch (e) {
            try {
              return Promise.resolve(failed(e));
            } catch (err) {
              return Promise.reject(err);
            }
          }
          if (r !== null) {
            streak++;
            return Promise.resolve(r);
          }
        }
        return slow();
      },
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /**
   * Commits offsets. With no argument: the current positions of every
   * assigned partition (records handed out count as consumed). With a
   * list of `{ topic, partition, offset }` (the next offset to read):
   * those; every partition must be assigned to this consumer, or nothing
   * is committed (`CommitFailed`).
   * @param {ReadonlyArray<{ topic: string, partition: number, offset: number }>} [offsets]
   */
  commit(offsets) {
    if (offsets == null) {
      this.#call(() => native.consumerCommit(this.#handle));
      return;
    }
    if (!Array.isArray(offsets)) {
      throw new TypeError(`commit offsets must be an array of { topic, partition, offset }, got ${typeName(offsets)}`);
    }
    const topics = [];
    const partitions = [];
    const list = [];
    offsets.forEach((o, i) => {
      if (o === null || typeof o !== 'object' || Array.isArray(o)) {
        throw new TypeError(`commit offsets[${i}] must be { topic, partition, offset }, got ${typeName(o)}`);
      }
      topics.push(checkString(o.topic, `offsets[${i}].topic`));
      partitions.push(checkNumber(o.partition, `offsets[${i}].partition`));
      list.push(checkNumber(o.offset, `offsets[${i}].offset`));
    });
    this.#call(() => native.consumerCommitOffsets(this.#handle, topics, partitions, list));
  }

  /** The group's committed offset of a partition (any partition), or null. */
  committed(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call(() => native.consumerCommitted(this.#handle, topic, p));
  }

  /** The next offset this consumer reads from an assigned partition. */
  position(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call(() => native.consumerPosition(this.#handle, topic, p));
  }

  /** Moves an assigned partition's position; an offset outside the log is reset by `autoOffsetReset` on the next poll. */
  seek(topic, partition, offset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = checkNumber(offset, 'offset');
    this.#call(() => native.consumerSeek(this.#handle, topic, p, o));
  }

  /** Every assigned partition to its start. */
  seekToBeginning() {
    this.#call(() => native.consumerSeekToBeginning(this.#handle));
  }

  /** Every assigned partition to its end: only records sent from now on. */
  seekToEnd() {
    this.#call(() => native.consumerSeekToEnd(this.#handle));
  }

  /** Every assigned partition to its first record with a timestamp >= `timestampMs` (or its end). */
  seekToTime(timestampMs) {
    const ts = checkTime(timestampMs, 'timestampMs');
    this.#call(() => native.consumerSeekToTime(this.#handle, ts));
  }

  /** The assigned partitions, sorted: `[{ topic, partition }]`. */
  assignment() {
    return this.#call(() => native.consumerAssignment(this.#handle)).map((a) => ({
      topic: a.topic,
      partition: a.partition,
    }));
  }

  /** End offset minus position, per assigned partition, sorted: `[{ topic, partition, lag }]`. */
  /**
   * Moves past damaged batches (after a `Corruption` error from `poll`):
   * returns the skipped ranges, `toOffset` exclusive; their records are
   * not delivered.
   */
  skipDamaged() {
    return this.#call(() => native.consumerSkipDamaged(this.#handle)).map((r) => ({
      topic: /** @type {string} */ (r.topic),
      partition: r.partition,
      fromOffset: r.fromOffset,
      toOffset: r.toOffset,
    }));
  }

  lag() {
    return this.#call(() => native.consumerLag(this.#handle)).map((l) => ({
      topic: l.topic,
      partition: l.partition,
      lag: /** @type {number} */ (l.lag),
    }));
  }

  /**
   * Leaves the group (with auto-commit, committing its positions first). Ends `for await` loops and waits. Closing twice
   * is harmless.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      native.consumerClose(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Consumer { group: ${JSON.stringify(this.#group)}, topics: ${JSON.stringify(this.#topics)}${this.closed ? ', closed' : ''} }`;
  }
}

/** `using` and `await using` close it. @param {Function} cls */
function disposable(cls) {
  if (typeof Symbol.dispose === 'symbol') {
    Object.defineProperty(cls.prototype, Symbol.dispose, {
      value: function dispose() {
        this.close();
      },
      writable: true,
      configurable: true,
    });
  }
  if (typeof Symbol.asyncDispose === 'symbol') {
    Object.defineProperty(cls.prototype, Symbol.asyncDispose, {
      value: async function asyncDispose() {
        this.close();
      },
      writable: true,
      configurable: true,
    });
  }
}
disposable(Consumer);

module.exports = { Consumer, kCreate, disposable };
