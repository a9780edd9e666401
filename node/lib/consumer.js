'use strict';
// Consumer: one member of a consumer group (the log side). Waits (`poll`,
// `for await`) run off the event loop (see lib/wait.js); everything else
// is synchronous.
//
// Iteration takes a poll's worth of records at a time and hands them out
// one by one. The records fetched but not handed out yet are "unread":
// `position`, `lag` and `commit()` count them as not consumed, a `seek`
// drops them, and `close()` seeks their partitions back to the first of
// them before leaving the group (whose auto-commit then stores exactly
// what was handed out). A loop left with `break` keeps them for the next
// `poll` or loop.

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

/** Records a `for await` loop fetches per poll. */
const ITER_BATCH = 500;
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

/** @param {string} topic @param {number} partition */
const tpKey = (topic, partition) => `${partition}:${topic}`;

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
  /** @type {any[]} fetched by iteration; `#unread[#next...]` not handed out yet */
  #unread = [];
  #next = 0;

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

  /** The error of a native call, named for this consumer when it (not the pond) is closed. */
  #error(e) {
    const err = translate(e);
    if (/** @type {any} */ (err)?.code === 'CLOSED' && !this.#pond.closed) {
      return errorOf('CLOSED', 'the consumer is closed');
    }
    return err;
  }

  /** @template T @param {() => T} f @returns {T} */
  #call(f) {
    if (this.#closed) throw errorOf('CLOSED', 'the consumer is closed');
    try {
      return f();
    } catch (e) {
      throw this.#error(e);
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
    if (this.#closed) throw errorOf('CLOSED', 'the consumer is closed');
    if (this.#next < this.#unread.length) return this.#takeUnread(count);
    const records = await this.#fetch(count, timeoutMs);
    if (records.length === 0 && this.#closed) throw errorOf('CLOSED', 'the consumer is closed');
    return records;
  }

  /** Polls natively (on the thread pool). @param {number} max @param {number} timeoutMs */
  async #fetch(max, timeoutMs) {
    const h = this.#handle;
    let r;
    try {
      r = await waitSliced((ms) => native.consumerPoll(h, max, ms), timeoutMs, () => this.closed);
    } catch (e) {
      throw this.#error(e);
    }
    return unpackBatch(r[0], r[1], 1, this.#topics, null);
  }

  /** @param {number} max */
  #takeUnread(max) {
    const end = Math.min(this.#unread.length, this.#next + max);
    const out = this.#unread.slice(this.#next, end);
    this.#next = end;
    if (end === this.#unread.length) this.#dropUnread();
    return out;
  }

  #dropUnread() {
    this.#unread = [];
    this.#next = 0;
  }

  /** @param {any[]} batch */
  #addUnread(batch) {
    if (this.#next < this.#unread.length) this.#unread = this.#unread.slice(this.#next).concat(batch);
    else this.#unread = batch;
    this.#next = 0;
  }

  /** The first unread record's offset per partition. @returns {Map<string, { topic: string, partition: number, offset: number }>} */
  #firstUnread() {
    const first = new Map();
    for (let i = this.#next; i < this.#unread.length; i++) {
      const r = this.#unread[i];
      const k = tpKey(r.topic, r.partition);
      if (!first.has(k)) first.set(k, { topic: r.topic, partition: r.partition, offset: r.offset });
    }
    return first;
  }

  /**
   * Seeks the partitions with unread records back to the first of them
   * and forgets them. A partition no longer assigned (a rebalance took it)
   * is skipped.
   */
  #rewind() {
    if (this.#next >= this.#unread.length) return;
    const first = this.#firstUnread();
    this.#dropUnread();
    for (const f of first.values()) {
      try {
        native.consumerSeek(this.#handle, f.topic, f.partition, f.offset);
      } catch {
        // Not assigned any more, or closed: nothing to seek.
      }
    }
  }

  /**
   * Records one at a time, waiting (off the event loop) when there are
   * none; the loop ends when the consumer or its pond is closed. Leaving
   * the loop (`break`) keeps the consumer open.
   *
   * A hand-written iterator rather than an async generator: a generator's
   * resumption costs about as much again per record as the rest of the loop.
   * @returns {AsyncIterableIterator<any>}
   */
  [Symbol.asyncIterator]() {
    let ended = false;
    const finish = () => {
      ended = true;
      return { value: undefined, done: true };
    };
    /** Fetches until a record comes or the consumer closes. */
    const slow = async () => {
      for (;;) {
        if (ended) return finish();
        const r = this.#takeOne();
        if (r !== undefined) return { value: r, done: false };
        if (this.closed) return finish();
        let batch;
        try {
          batch = await this.#fetch(ITER_BATCH, Infinity);
        } catch (e) {
          if (/** @type {any} */ (e)?.code === 'CLOSED') return finish();
          ended = true;
          throw e;
        }
        if (batch.length > 0) this.#addUnread(batch);
      }
    };
    return {
      next: () => {
        if (!ended) {
          const r = this.#takeOne();
          if (r !== undefined) return Promise.resolve({ value: r, done: false });
        }
        return slow();
      },
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** The next unread record, or undefined. */
  #takeOne() {
    if (this.#next >= this.#unread.length) return undefined;
    const r = this.#unread[this.#next];
    this.#unread[this.#next++] = undefined;
    if (this.#next === this.#unread.length) this.#dropUnread();
    return r;
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
      this.#call(() => this.#commitPositions());
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

  /** Commits positions, counting unread records as not consumed. */
  #commitPositions() {
    const h = this.#handle;
    if (this.#next >= this.#unread.length) {
      native.consumerCommit(h);
      return;
    }
    // Move each unread partition back to its first unread record for the
    // commit, then forward again to where the next poll goes on.
    const moved = [];
    try {
      for (const f of this.#firstUnread().values()) {
        let position;
        try {
          position = native.consumerPosition(h, f.topic, f.partition);
        } catch {
          continue; // not assigned any more
        }
        native.consumerSeek(h, f.topic, f.partition, f.offset);
        moved.push([f, position]);
      }
      native.consumerCommit(h);
    } finally {
      for (const [f, position] of moved) {
        try {
          native.consumerSeek(h, f.topic, f.partition, position);
        } catch {
          // Taken by a rebalance meanwhile: its new owner starts from the commit.
        }
      }
    }
  }

  /** The group's committed offset of a partition (any partition), or null. */
  committed(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call(() => native.consumerCommitted(this.#handle, topic, p));
  }

  /** The next offset this consumer reads from an assigned partition (unread records count as not read). */
  position(topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    if (this.#closed) throw errorOf('CLOSED', 'the consumer is closed');
    for (let i = this.#next; i < this.#unread.length; i++) {
      const r = this.#unread[i];
      if (r.partition === p && r.topic === topic) return r.offset;
    }
    return this.#call(() => native.consumerPosition(this.#handle, topic, p));
  }

  /** Moves an assigned partition's position; an offset outside the log is reset by `autoOffsetReset` on the next poll. */
  seek(topic, partition, offset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = checkNumber(offset, 'offset');
    this.#call(() => native.consumerSeek(this.#handle, topic, p, o));
    if (this.#next < this.#unread.length) {
      const rest = this.#unread.slice(this.#next).filter((r) => !(r.partition === p && r.topic === topic));
      this.#dropUnread();
      if (rest.length > 0) this.#unread = rest;
    }
  }

  /** Every assigned partition to its start. */
  seekToBeginning() {
    this.#call(() => native.consumerSeekToBeginning(this.#handle));
    this.#dropUnread();
  }

  /** Every assigned partition to its end: only records sent from now on. */
  seekToEnd() {
    this.#call(() => native.consumerSeekToEnd(this.#handle));
    this.#dropUnread();
  }

  /** Every assigned partition to its first record with a timestamp >= `timestampMs` (or its end). */
  seekToTime(timestampMs) {
    const ts = checkTime(timestampMs, 'timestampMs');
    this.#call(() => native.consumerSeekToTime(this.#handle, ts));
    this.#dropUnread();
  }

  /** The assigned partitions, sorted: `[{ topic, partition }]`. */
  assignment() {
    return this.#call(() => native.consumerAssignment(this.#handle)).map((a) => ({
      topic: a.topic,
      partition: a.partition,
    }));
  }

  /** End offset minus position, per assigned partition, sorted: `[{ topic, partition, lag }]`. */
  lag() {
    const lag = this.#call(() => native.consumerLag(this.#handle));
    /** @type {Map<string, number>} */
    const unread = new Map();
    for (let i = this.#next; i < this.#unread.length; i++) {
      const k = tpKey(this.#unread[i].topic, this.#unread[i].partition);
      unread.set(k, (unread.get(k) ?? 0) + 1);
    }
    return lag.map((l) => ({
      topic: l.topic,
      partition: l.partition,
      lag: /** @type {number} */ (l.lag) + (unread.get(tpKey(l.topic, l.partition)) ?? 0),
    }));
  }

  /**
   * Leaves the group (with auto-commit, committing the positions of what
   * was handed out first). Ends `for await` loops and waits. Closing twice
   * is harmless.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#rewind();
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
