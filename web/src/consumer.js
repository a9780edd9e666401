// Consumer: a member of a consumer group (the log side).

import { translate } from './errors.js';
import {
  checkString,
  checkNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  checkWait,
  typeName,
  unpackRecords,
} from './convert.js';
import { kConsumer } from './internal.js';

const KEYS = new Set(['group', 'topics', 'autoOffsetReset', 'autoCommit', 'autoCommitIntervalMs', 'sessionTimeoutMs', 'assignor']);
const POLL_KEYS = new Set(['maxRecords', 'timeoutMs']);
const DEFAULT_MAX_RECORDS = 500;

/** Checks `pond.consumer(options)` and fills in the defaults. @param {unknown} options */
export function consumerArgs(options) {
  if (options == null) throw new TypeError('pond.consumer needs options: { group, topics }');
  const o = checkOptions(options, 'consumer options');
  checkKeys(o, KEYS, 'pond.consumer');
  const group = checkString(o.group, 'group');
  let topics = o.topics;
  if (typeof topics === 'string') topics = [topics];
  if (!Array.isArray(topics)) throw new TypeError(`topics must be an array of strings, got ${typeName(topics)}`);
  for (const t of topics) checkString(t, 'a topic');
  const autoOffsetReset = o.autoOffsetReset ?? 'latest';
  checkString(autoOffsetReset, 'autoOffsetReset');
  const assignor = o.assignor ?? 'cooperative-sticky';
  checkString(assignor, 'assignor');
  // Missing durations take the core's defaults.
  const sessionTimeoutMs = o.sessionTimeoutMs == null ? undefined : checkNumber(o.sessionTimeoutMs, 'sessionTimeoutMs');
  return {
    group,
    topics: /** @type {string[]} */ ([...topics]),
    autoOffsetReset,
    autoCommit: checkOptBoolean(o.autoCommit, 'autoCommit') ?? true,
    autoCommitIntervalMs: o.autoCommitIntervalMs == null ? undefined : checkNumber(o.autoCommitIntervalMs, 'autoCommitIntervalMs'),
    sessionTimeoutMs,
    assignor,
  };
}

/**
 * @typedef {object} Context what a consumer needs from its pond
 * @property {import('./waiters.js').Hub} hub
 * @property {(wake: boolean) => void} touched
 * @property {() => boolean} closed
 * @property {() => number} now
 */

/**
 * A member of a consumer group: the group splits the topics' partitions
 * between its members; each member reads its partitions from its
 * positions and commits them. Get one with `pond.consumer({ group, topics })`.
 */
export class Consumer {
  #w;
  /** @type {Context} */
  #ctx;
  #group;
  #heartbeatMs;
  #closed = false;
  /** The group generation last seen: a change means a rebalance, which may give other members work. */
  #generation = -1;

  /** @private use `pond.consumer(options)` */
  constructor(/** @type {symbol} */ token, /** @type {any} */ w, /** @type {Context} */ ctx, /** @type {ReturnType<typeof consumerArgs>} */ args) {
    if (token !== kConsumer) throw new TypeError('use pond.consumer(options) to get a Consumer');
    this.#w = w;
    this.#ctx = ctx;
    this.#group = args.group;
    // A waiting poll heartbeats well within the session timeout (the core's rule).
    this.#heartbeatMs = Math.max(10, w.heartbeatIntervalMs());
  }

  /** The group id. */
  get group() {
    return this.#group;
  }

  /** Whether `close()` was called (or the pond closed). */
  get closed() {
    return this.#closed || this.#ctx.closed();
  }

  /** @template T @param {(w: any) => T} f @returns {T} */
  #call(f) {
    try {
      return f(this.#w);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Polls once, without waiting. @param {number} max */
  #pollNow(max) {
    return this.#fetch((w) => w.poll(max));
  }

  /** The next record (`[]` or `[record]`), without waiting. */
  #nextNow() {
    return this.#fetch((w) => w.nextRecord());
  }

  /** Runs a fetch in the core and unpacks its records; a new generation wakes the other waiters. @param {(w: any) => any} f */
  #fetch(f) {
    let packed;
    try {
      packed = f(this.#w);
    } catch (e) {
      throw translate(e);
    } finally {
      this.#ctx.touched(false);
    }
    let generation = this.#generation;
    try {
      generation = this.#w.generation();
    } catch {
      // closed meanwhile
    }
    if (generation !== this.#generation) {
      this.#generation = generation;
      this.#ctx.hub.wake();
    }
    return unpackRecords(packed);
  }

  /**
   * Records from the assigned partitions: at most `maxRecords` (default
   * 500). With `timeoutMs` > 0 (default 0; `Infinity` waits for ever), waits
   * until a record arrives in this pond, then resolves; resolves with `[]`
   * at the timeout or when the consumer or the pond closes.
   * @param {{ maxRecords?: number, timeoutMs?: number }} [options]
   */
  async poll(options) {
    const o = checkOptions(options, 'poll options');
    checkKeys(o, POLL_KEYS, 'poll');
    const max = o.maxRecords == null ? DEFAULT_MAX_RECORDS : checkNumber(o.maxRecords, 'maxRecords');
    const timeoutMs = checkWait(o.timeoutMs, 'timeoutMs', 0);
    return this.#poll(max, timeoutMs);
  }

  /** @param {number} max @param {number} timeoutMs @returns {Promise<any[]>} */
  #poll(max, timeoutMs) {
    const first = this.#pollNow(max);
    if (first.length > 0 || timeoutMs === 0) return Promise.resolve(first);
    return this.#ctx.hub.wait(() => this.#pollNow(max), () => this.closed, timeoutMs, this.#heartbeatMs);
  }

  /**
   * Every record, one at a time, waiting for new ones; ends when the
   * consumer (or the pond) closes. Positions move only by the records the
   * loop hands out, so after leaving it early (`break`) a commit covers
   * exactly the records it saw, and a rebalance hands the rest over.
   */
  async *[Symbol.asyncIterator]() {
    while (!this.closed) {
      let got;
      try {
        got = this.#nextNow();
        if (got.length === 0) got = await this.#ctx.hub.wait(() => this.#nextNow(), () => this.closed, Infinity, this.#heartbeatMs);
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      if (got.length > 0) yield got[0];
    }
  }

  /**
   * Commits the current positions, or the given next-offsets-to-read
   * (every partition must be assigned to this consumer, else `CommitFailed`
   * and nothing is committed).
   * @param {Array<{ topic: string, partition: number, offset: number }>} [offsets]
   */
  commit(offsets) {
    if (offsets == null) {
      this.#call((w) => w.commit());
    } else {
      if (!Array.isArray(offsets)) throw new TypeError(`commit offsets must be an array, got ${typeName(offsets)}`);
      const topics = [];
      const partitions = new Float64Array(offsets.length);
      const values = new Float64Array(offsets.length);
      for (let i = 0; i < offsets.length; i++) {
        const e = checkOptions(offsets[i], `commit offset ${i}`);
        topics.push(checkString(e.topic, `commit offset ${i} topic`));
        partitions[i] = checkNumber(e.partition, `commit offset ${i} partition`);
        values[i] = checkNumber(e.offset, `commit offset ${i} offset`);
      }
      this.#call((w) => w.commitOffsets(topics, partitions, values));
    }
    this.#ctx.touched(false);
  }

  /** The group's committed offset of a partition, or null. @param {string} topic @param {number} partition @returns {number | null} */
  committed(topic, partition) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call((w) => w.committed(topic, p)) ?? null;
  }

  /** The next offset this consumer reads from an assigned partition. @param {string} topic @param {number} partition @returns {number} */
  position(topic, partition) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call((w) => w.position(topic, p));
  }

  /** @param {(w: any) => void} f */
  #seek(f) {
    this.#call(f);
    this.#ctx.touched(true);
  }

  /** Moves an assigned partition's position. @param {string} topic @param {number} partition @param {number} offset */
  seek(topic, partition, offset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = checkNumber(offset, 'offset');
    this.#seek((w) => w.seek(topic, p, o));
  }

  seekToBeginning() {
    this.#seek((w) => w.seekToBeginning());
  }

  seekToEnd() {
    this.#seek((w) => w.seekToEnd());
  }

  /** Every assigned partition to its first record at or after `timestampMs`. @param {number | Date} timestampMs */
  seekToTime(timestampMs) {
    const ts = checkTime(timestampMs, 'timestampMs');
    this.#seek((w) => w.seekToTime(ts));
  }

  /** The assigned partitions, sorted. @returns {Array<{ topic: string, partition: number }>} */
  assignment() {
    const [topics, partitions] = this.#call((w) => w.assignment());
    return topics.map((/** @type {string} */ topic, /** @type {number} */ i) => ({ topic, partition: partitions[i] }));
  }

  /** End offset minus position, per assigned partition, sorted. @returns {Array<{ topic: string, partition: number, lag: number }>} */
  lag() {
    const [topics, partitions, lags] = this.#call((w) => w.lag());
    return topics.map((/** @type {string} */ topic, /** @type {number} */ i) => ({ topic, partition: partitions[i], lag: lags[i] }));
  }

  /** Moves past damaged batches (after a `Corruption` error from `poll`): the skipped ranges, `toOffset` exclusive. */
  skipDamaged() {
    return this.#call((w) => w.skipDamaged());
  }

  /** This member's id in its group (it changes when a member that timed out rejoins). */
  memberId() {
    return this.#call((w) => w.memberId());
  }

  /** The group's generation: it grows with every rebalance. */
  generation() {
    return this.#call((w) => w.generation());
  }

  /**
   * Leaves the group (committing positions first with auto-commit); a
   * waiting poll resolves with `[]` and iteration ends. Closing twice is
   * harmless.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#w.close();
    } catch (e) {
      throw translate(e);
    } finally {
      this.#ctx.touched(true);
    }
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(Consumer.prototype, Symbol.dispose, {
    value: function dispose() {
      this.close();
    },
    writable: true,
    configurable: true,
  });
}
