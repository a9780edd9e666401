// Consumer: one member of a consumer group (the log side). Waits (`poll`,
// `for await`) are the backend's (Node: on the thread pool; browsers: the
// pond's wait hub); everything else is synchronous.
//
// Iteration uses the core's `next_record`: the core fetches in batches
// but a partition's position (so commits, auto-commits and the hand-over
// commit of a rebalance) moves only past the records handed out, and the
// loop asks for one record per step, so positions count exactly what the
// loop yielded. A record that is there is taken synchronously (it never
// waits); when none is, the backend waits for one.

import { turn } from '../backend.js';
import { errorOf, translate, call, write, nothingWritten, kCreate, disposable } from './internal.js';
import {
  typeName,
  checkString,
  checkNumber,
  checkTime,
  checkOptions,
  checkKeys,
  waitOptions,
  pickOptions,
} from './check.js';
import { unpack } from './records.js';

/**
 * What a package gives for one consumer. Waits resolve packed records
 * (see records.js; a topic index before each record's numbers), empty
 * when the wait ended with none.
 * @typedef {object} ConsumerBackend
 * @property {(max: number, timeoutMs: number, stopped: () => boolean) => Promise<import('./records.js').Packed>} poll
 * @property {() => import('./records.js').Packed | null} next the next record if one is there now (never waits)
 * @property {(stopped: () => boolean) => Promise<import('./records.js').Packed>} nextWait waits for the next record
 * @property {() => void} commit
 * @property {(topics: string[], partitions: number[], offsets: number[]) => void} commitOffsets
 * @property {(topic: string, partition: number) => number | null | undefined} committed
 * @property {(topic: string, partition: number) => number} position
 * @property {(topic: string, partition: number, offset: number) => void} seek
 * @property {() => void} seekToBeginning
 * @property {() => void} seekToEnd
 * @property {(timestampMs: number) => void} seekToTime
 * @property {() => Array<{ topic: string, partition: number }>} assignment
 * @property {() => Array<{ topic: string, partition: number, lag: number }>} lag
 * @property {() => Array<{ topic: string, partition: number, fromOffset: number, toOffset: number }>} skipDamaged
 * @property {() => ArrayLike<number>} member `[memberId, generation]`
 * @property {() => void} close
 */

/** Records a `for await` loop takes in a row before it lets the event loop turn. */
const ITER_TURN = 256;
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

/**
 * The options of `pond.consumer(options)`, type-checked (absent ones are
 * left out: the core's defaults apply).
 * @param {unknown} options
 */
export function consumerOptions(options) {
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
  const out = { group, topics, ...pickOptions(o, ['autoCommitIntervalMs', 'sessionTimeoutMs'], ['autoCommit']) };
  for (const k of ['autoOffsetReset', 'assignor']) {
    if (o[k] != null) out[k] = checkString(o[k], k);
  }
  return out;
}

/**
 * A member of a consumer group: it reads the partitions the group assigns
 * it, tracks a position in each, and commits offsets. Made by
 * `pond.consumer({ group, topics, ... })`.
 */
export class Consumer {
  /** @type {ConsumerBackend} */
  #c;
  /** @type {import('./pond.js').PondBackend} */
  #b;
  /** @type {{ readonly closed: boolean }} */
  #pond;
  #group;
  /** @type {readonly string[]} */
  #topics;
  #closed = false;

  /** @private Use `pond.consumer(options)`. */
  constructor(
    /** @type {symbol} */ token,
    /** @type {{ readonly closed: boolean }} */ pond,
    /** @type {import('./pond.js').PondBackend} */ backend,
    /** @type {Record<string, unknown>} */ o,
    /** @type {ConsumerBackend} */ c,
  ) {
    if (token !== kCreate) throw new TypeError('use pond.consumer({ group, topics }) to get a Consumer');
    this.#c = c;
    this.#b = backend;
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
    return this.#call(() => this.#c.member())[0];
  }

  /** The group's generation: it grows with every rebalance. */
  get generation() {
    return this.#call(() => this.#c.member())[1];
  }

  /** @template T @param {() => T} f @returns {T} */
  #call(f) {
    if (this.#closed) throw errorOf('CLOSED', 'this consumer is closed');
    return call(f);
  }

  /** Like #call, for calls that change the pond. @template T @param {() => T} f @param {boolean} [wake] @returns {T} */
  #write(f, wake = false) {
    if (this.#closed) throw errorOf('CLOSED', 'this consumer is closed');
    return write(this.#b, wake, f);
  }

  /**
   * Up to `maxRecords` (default 500) records from the assigned partitions.
   * With `timeoutMs` (default 0; `Infinity`: no limit) it waits for
   * records to arrive. Rejects with `Closed` when the consumer is closed
   * before records come.
   * @param {{ maxRecords?: number, timeoutMs?: number }} [options]
   */
  async poll(options) {
    const { count, timeoutMs } = waitOptions(options, 'poll', 'maxRecords', DEFAULT_MAX_RECORDS);
    if (this.#closed) throw errorOf('CLOSED', 'this consumer is closed');
    let r;
    try {
      r = await this.#c.poll(count, timeoutMs, () => this.closed);
    } catch (e) {
      throw translate(e);
    }
    const records = unpack(r, 1, this.#topics, null);
    if (records.length === 0 && this.closed) throw this.#closedError();
    return records;
  }

  /** Why a wait ended empty: this consumer or its pond closed. */
  #closedError() {
    return this.#closed ? errorOf('CLOSED', 'this consumer is closed') : errorOf('CLOSED', 'pond is closed');
  }

  /**
   * Records one at a time, waiting when there are none; the loop ends when
   * the consumer or its pond is closed. Each step takes one record from the
   * core, so positions, `lag` and commits count exactly the records the
   * loop yielded; leaving it (`break`) keeps the consumer open, and the
   * next `poll` or loop goes on right after them.
   *
   * A hand-written iterator rather than an async generator: a generator's
   * resumption costs about as much again per record as the rest of the loop.
   * @returns {AsyncIterableIterator<any>}
   */
  [Symbol.asyncIterator]() {
    const c = this.#c;
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
      if (/** @type {any} */ (err)?.code === 'CLOSED' || this.closed) return finish();
      ended = true;
      throw err;
    };
    /** The record there is now (never waits), or null. */
    const take = () => {
      const r = c.next();
      return r === null ? null : { value: unpack(r, 1, topics, null)[0], done: false };
    };
    /** Lets the event loop turn when due, then waits until a record comes or the consumer closes. */
    const slow = async () => {
      try {
        if (streak >= ITER_TURN) {
          streak = 0;
          await turn();
          if (ended) return finish();
          const r = take();
          if (r !== null) return r;
        }
        for (;;) {
          if (ended || this.closed) return finish();
          streak = 0; // the event loop turns while the backend waits
          const r = await c.nextWait(() => this.closed);
          // A record handed out is yielded even if the consumer closed meanwhile.
          if (r[1].length > 0) return { value: unpack(r, 1, topics, null)[0], done: false };
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
    if (offsets == null) return this.#write(() => this.#c.commit());
    if (!Array.isArray(offsets)) {
      throw new TypeError(`commit offsets must be an array of { topic, partition, offset }, got ${typeName(offsets)}`);
    }
    /** @type {string[]} */
    const topics = [];
    /** @type {number[]} */
    const partitions = [];
    /** @type {number[]} */
    const list = [];
    offsets.forEach((o, i) => {
      if (o === null || typeof o !== 'object' || Array.isArray(o)) {
        throw new TypeError(`commit offsets[${i}] must be { topic, partition, offset }, got ${typeName(o)}`);
      }
      topics.push(checkString(o.topic, `offsets[${i}].topic`));
      partitions.push(checkNumber(o.partition, `offsets[${i}].partition`));
      list.push(checkNumber(o.offset, `offsets[${i}].offset`));
    });
    return this.#write(() => this.#c.commitOffsets(topics, partitions, list));
  }

  /** The group's committed offset of a partition (any partition), or null. */
  committed(/** @type {string} */ topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call(() => this.#c.committed(topic, p)) ?? null;
  }

  /** The next offset this consumer reads from an assigned partition. */
  position(/** @type {string} */ topic, partition = 0) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    return this.#call(() => this.#c.position(topic, p));
  }

  /** Moves an assigned partition's position; an offset outside the log is reset by `autoOffsetReset` on the next poll. */
  seek(/** @type {string} */ topic, /** @type {number} */ partition, /** @type {number} */ offset) {
    checkString(topic, 'topic');
    const p = checkNumber(partition, 'partition');
    const o = checkNumber(offset, 'offset');
    return this.#write(() => this.#c.seek(topic, p, o), true);
  }

  /** Every assigned partition to its start. */
  seekToBeginning() {
    return this.#write(() => this.#c.seekToBeginning(), true);
  }

  /** Every assigned partition to its end: only records sent from now on. */
  seekToEnd() {
    return this.#write(() => this.#c.seekToEnd(), true);
  }

  /** Every assigned partition to its first record with a timestamp >= `timestampMs` (or its end). */
  seekToTime(/** @type {number | Date} */ timestampMs) {
    const ts = checkTime(timestampMs, 'timestampMs');
    return this.#write(() => this.#c.seekToTime(ts), true);
  }

  /** The assigned partitions, sorted: `[{ topic, partition }]`. */
  assignment() {
    return this.#call(() => this.#c.assignment());
  }

  /** End offset minus position, per assigned partition, sorted: `[{ topic, partition, lag }]`. */
  lag() {
    return this.#call(() => this.#c.lag());
  }

  /**
   * Moves past damaged batches (after a `Corruption` error from `poll`):
   * returns the skipped ranges, `toOffset` exclusive; their records are
   * not delivered.
   */
  skipDamaged() {
    return this.#write(() => this.#c.skipDamaged());
  }

  /**
   * Leaves the group (with auto-commit, committing its positions first).
   * Ends `for await` loops and waits. Closing twice is harmless.
   */
  close() {
    if (this.#closed) return nothingWritten(this.#b);
    this.#closed = true;
    return write(this.#b, true, () => this.#c.close());
  }

  toString() {
    return `Consumer { group: ${JSON.stringify(this.#group)}, topics: ${JSON.stringify(this.#topics)}${this.closed ? ', closed' : ''} }`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }
}
disposable(Consumer);
