// Queue: a consumer of a named subscription on a topic (the
// traditional-broker side): competing consumers, leases, ack / nack,
// redelivery, dead letters. `receive` and `for await` wait through the
// backend; `subscribe` (subscription.js) pushes deliveries to a handler.

import { errorOf, translate, call, write, nothingWritten, kCreate, disposable } from './internal.js';
import { typeName, checkString, checkNumber, checkOptions, checkKeys, waitOptions, pickOptions, checkBackoff } from './check.js';
import { unpack } from './records.js';
import { Subscription, subscribeOptions } from './subscription.js';

/**
 * What a package gives for one queue consumer. `receive` resolves packed
 * records (see records.js; `deliveryCount, leaseId` before each record's
 * numbers), empty when the wait ended with none. A token is a record's
 * `partition, offset` and its lease id.
 * @typedef {object} QueueBackend
 * @property {(max: number, timeoutMs: number, stopped: () => boolean) => Promise<import('./records.js').Packed>} receive
 * @property {(tokens: Float64Array) => void} ack settles all the tokens (three numbers each), or none
 * @property {(partition: number, offset: number, lease: number, delayMs: number | undefined, reason: string | undefined) => void} nack
 *   (no `delayMs`: the subscription's retry backoff, or at once)
 * @property {(partition: number, offset: number, lease: number, ms: number) => number} extend the new lease deadline (epoch ms)
 * @property {(partition: number, offset: number, lease: number, reason: string) => void} nackFailed
 * @property {() => number} backlog
 * @property {() => number} inFlight
 * @property {() => Array<{ partition: number, fromOffset: number, toOffset: number }>} skipDamaged
 * @property {() => Array<{ partition: number, offset: number, deliveryCount: number, reason: string }>} parked
 * @property {() => void} wake runs waiting receives' checks now (a subscription stopped)
 * @property {() => void} close
 */

const QUEUE_KEYS = new Set([
  'subscription',
  'ackTimeoutMs',
  'maxDeliveries',
  'deadLetterTopic',
  'retryBackoffMs',
  'maxInFlight',
  'startAtEnd',
]);
const NACK_KEYS = new Set(['delayMs', 'reason']);
const EXTEND_KEYS = new Set(['ackTimeoutMs']);

/**
 * The options of `pond.queue(topic, options)`, type-checked (absent ones
 * are left out: the stored settings, or the core's defaults, apply).
 * @param {unknown} options
 */
export function queueOptions(options) {
  if (options == null) throw new TypeError("pond.queue needs options: { subscription: 'name' }");
  if (typeof options === 'string') return { subscription: options };
  const o = checkOptions(options, 'queue options');
  checkKeys(o, QUEUE_KEYS, 'pond.queue');
  /** @type {Record<string, unknown>} */
  const out = {
    subscription: checkString(o.subscription, 'subscription'),
    ...pickOptions(o, ['ackTimeoutMs', 'maxDeliveries', 'maxInFlight'], ['startAtEnd']),
  };
  if (o.deadLetterTopic != null) out.deadLetterTopic = checkString(o.deadLetterTopic, 'deadLetterTopic');
  if (o.retryBackoffMs != null) out.retryBackoffMs = checkBackoff(o.retryBackoffMs);
  return out;
}

// Settling calls: their result, or (where the package's writes are
// asynchronous) a Promise of it.
/** @type {(q: Queue, tokens: Float64Array) => void | Promise<void>} */
let ackTokens;
/** @type {(q: Queue, token: Float64Array, delayMs: number | undefined, reason: string | undefined) => void | Promise<void>} */
let nackToken;
/** @type {(q: Queue, token: Float64Array, ms: number) => number | Promise<number>} */
let extendToken;
/** @type {(q: Queue, token: Float64Array, reason: string) => void | Promise<void>} */
export let nackFailedToken;
/** @type {(d: Delivery) => { queue: Queue, token: Float64Array }} */
export let deliveryParts;
/** @type {(d: Delivery) => void} */
export let markDone;

/**
 * A record leased to a queue consumer until it is acked, nacked, or its
 * ack timeout passes.
 */
export class Delivery {
  #queue;
  /** The delivery's token: the record's partition and offset, and the lease id. */
  #token;
  #done = false;

  /** @private Deliveries come from `queue.receive()`, iteration and `subscribe`. */
  constructor(/** @type {symbol} */ token, /** @type {Queue} */ queue, /** @type {number} */ lease, /** @type {any} */ record, /** @type {number} */ deliveryCount) {
    if (token !== kCreate) throw new TypeError('deliveries come from queue.receive()');
    this.#queue = queue;
    this.#token = Float64Array.of(record.partition, record.offset, lease);
    /** The record (as `pond.read` returns records). */
    this.record = record;
    /** 1 on the first delivery; every redelivery counts up. */
    this.deliveryCount = deliveryCount;
  }

  /** The queue consumer that received it. */
  get queue() {
    return this.#queue;
  }

  /** Whether `ack()`, `nack()` or `queue.ackMany` settled it through this object. */
  get done() {
    return this.#done;
  }

  /**
   * Settles it: it is never delivered again. Throws `LeaseExpired` when it
   * was delivered again (or settled) since.
   */
  ack() {
    const r = ackTokens(this.#queue, this.#token);
    this.#done = true;
    return r;
  }

  /**
   * Returns it to the subscription, deliverable again after `delayMs`
   * (without one: after the subscription's `retryBackoffMs`, or at once
   * behind the records already waiting); `reason` goes into a dead
   * letter's `logpond.dlq.reason`.
   * @param {{ delayMs?: number, reason?: string }} [options]
   */
  nack(options) {
    /** @type {number | undefined} */
    let delayMs;
    let reason;
    if (options != null) {
      const o = checkOptions(options, 'nack options');
      checkKeys(o, NACK_KEYS, 'nack');
      if (o.delayMs != null) delayMs = checkNumber(o.delayMs, 'delayMs');
      if (o.reason != null) reason = checkString(o.reason, 'reason');
    }
    const r = nackToken(this.#queue, this.#token, delayMs, reason);
    this.#done = true;
    return r;
  }

  /**
   * Keeps it leased for `ackTimeoutMs` more from now (a long job; SQS's
   * ChangeMessageVisibility). Throws `LeaseExpired` when the lease already
   * ended. Returns the new deadline (epoch ms of the pond's clock).
   * @param {{ ackTimeoutMs: number }} options
   */
  extend(options) {
    const o = checkOptions(options, 'extend options');
    checkKeys(o, EXTEND_KEYS, 'extend');
    return extendToken(this.#queue, this.#token, checkNumber(o.ackTimeoutMs, 'ackTimeoutMs'));
  }

  toString() {
    const r = this.record;
    return `Delivery { topic: ${JSON.stringify(r.topic)}, partition: ${r.partition}, offset: ${r.offset}, deliveryCount: ${this.deliveryCount} }${this.#done ? ' (done)' : ''}`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }

  static {
    deliveryParts = (d) => ({ queue: d.#queue, token: d.#token });
    markDone = (d) => {
      d.#done = true;
    };
  }
}

/**
 * A consumer of a queue subscription: it competes with the subscription's
 * other consumers for records. Made by `pond.queue(topic, { subscription })`.
 */
export class Queue {
  /** @type {QueueBackend} */
  #q;
  /** @type {import('./pond.js').PondBackend} */
  #b;
  /** @type {{ readonly closed: boolean }} */
  #pond;
  #topic;
  #subscription;
  #closed = false;

  /** @private Use `pond.queue(topic, options)`. */
  constructor(
    /** @type {symbol} */ token,
    /** @type {{ readonly closed: boolean }} */ pond,
    /** @type {import('./pond.js').PondBackend} */ backend,
    /** @type {string} */ topic,
    /** @type {Record<string, unknown>} */ o,
    /** @type {QueueBackend} */ q,
  ) {
    if (token !== kCreate) throw new TypeError('use pond.queue(topic, { subscription }) to get a Queue');
    this.#q = q;
    this.#b = backend;
    this.#pond = pond;
    this.#topic = topic;
    this.#subscription = /** @type {string} */ (o.subscription);
  }

  /** The topic. */
  get topic() {
    return this.#topic;
  }

  /** The subscription's name. */
  get subscription() {
    return this.#subscription;
  }

  /** Whether this queue consumer (or its pond) is closed. */
  get closed() {
    return this.#closed || this.#pond.closed;
  }

  /** @template T @param {() => T} f @returns {T} */
  #call(f) {
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    return call(f);
  }

  /** Like #call, for calls that change the pond. @template T @param {() => T} f @returns {T} */
  #write(f) {
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    return write(this.#b, true, f);
  }

  /**
   * Up to `maxMessages` (default 1) deliveries, each leased for the ack
   * timeout. With `timeoutMs` (default 0; `Infinity`: no limit) it waits
   * for one. Rejects with `Closed` when the queue consumer is closed before
   * one comes.
   * @param {{ maxMessages?: number, timeoutMs?: number }} [options]
   */
  async receive(options) {
    const { count, timeoutMs } = waitOptions(options, 'receive', 'maxMessages', 1);
    const got = await this.#fetch(count, timeoutMs, () => this.closed);
    // A wait the pond's (or this consumer's) close ended rejects as a poll does.
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    if (got.length === 0 && this.closed) throw errorOf('CLOSED', 'pond is closed');
    return got;
  }

  /**
   * Receives through the backend.
   * @param {number} max @param {number} timeoutMs @param {() => boolean} stopped
   * @returns {Promise<Delivery[]>}
   */
  async #fetch(max, timeoutMs, stopped) {
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    let r;
    try {
      r = await this.#q.receive(max, timeoutMs, stopped);
    } catch (e) {
      throw translate(e);
    }
    /** @type {number[]} */
    const extras = [];
    const records = unpack(r, 2, this.#topic, extras);
    return records.map((rec, i) => new Delivery(kCreate, this, extras[2 * i + 1], rec, extras[2 * i]));
  }

  /**
   * Deliveries one at a time, waiting when there are none; the loop ends
   * when the queue consumer or its pond is closed. Each must still be acked
   * or nacked.
   * @returns {AsyncGenerator<Delivery, void, undefined>}
   */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.closed) return;
      let got;
      try {
        got = await this.#fetch(1, Infinity, () => this.closed);
      } catch (e) {
        if (/** @type {any} */ (e)?.code === 'CLOSED' || this.closed) return;
        throw e;
      }
      // Deliveries that raced a close were released by it: not handed out.
      if (this.#closed) return;
      yield* got;
    }
  }

  /**
   * Acknowledges several deliveries of this queue consumer in one write:
   * all of them, or none (`LeaseExpired` when one was delivered again or
   * settled since).
   * @param {Iterable<Delivery>} deliveries
   */
  ackMany(deliveries) {
    if (deliveries == null || typeof (/** @type {any} */ (deliveries)[Symbol.iterator]) !== 'function') {
      throw new TypeError(`ackMany takes an array of deliveries, got ${typeName(deliveries)}`);
    }
    const list = [...deliveries];
    const tokens = new Float64Array(3 * list.length);
    list.forEach((d, i) => {
      if (!(d instanceof Delivery)) throw new TypeError(`ackMany: item ${i} is not a Delivery, got ${typeName(d)}`);
      const { queue, token } = deliveryParts(d);
      if (queue !== this) {
        throw errorOf(
          'INVALID_ARGUMENT',
          `ackMany: delivery ${i} was received by another queue consumer (${queue.#topic}/${queue.#subscription}); ack it through that one`,
        );
      }
      tokens.set(token, 3 * i);
    });
    if (list.length === 0) return nothingWritten(this.#b);
    const r = ackTokens(this, tokens);
    for (const d of list) markDone(d);
    return r;
  }

  /**
   * Push delivery: calls `handler(delivery)` for every delivery, up to
   * `concurrency` (default 1) at a time. A handler that resolves (or
   * returns) acks the delivery; one that rejects (or throws) nacks it,
   * with the error's message as reason: it comes back after `nackDelayMs`,
   * or by default after the subscription's `retryBackoffMs` or, with none,
   * a backoff (1 s, doubling per delivery, at most 60 s), so one failing
   * record never spins.
   * A handler may also ack or nack by itself. A handler's failure, a
   * failure to settle and a receive failure that ends the subscription go
   * to `onError(error, delivery)` (default: a warning). `await sub.stop()` stops receiving and waits for running
   * handlers. The subscription also ends when the queue consumer or its
   * pond is closed.
   * @param {(delivery: Delivery) => unknown} handler
   * @param {{ concurrency?: number, nackDelayMs?: number, onError?: (error: unknown, delivery: Delivery | null) => void }} [options]
   */
  subscribe(handler, options) {
    const o = subscribeOptions(handler, options);
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    return new Subscription(kCreate, this, handler, o, {
      fetch: (/** @type {number} */ max, /** @type {() => boolean} */ stopped) => this.#fetch(max, Infinity, stopped),
      wake: () => this.#q.wake(),
    });
  }

  /** Unsettled records of the subscription (in flight and parked included). */
  backlog() {
    return this.#call(() => this.#q.backlog());
  }

  /** Records of the subscription leased to any of its consumers now. */
  inFlight() {
    return this.#call(() => this.#q.inFlight());
  }

  /**
   * Moves the subscription past damaged batches (after a `Corruption` error
   * from `receive`): their records are settled undelivered. Returns the
   * skipped ranges, `toOffset` exclusive.
   */
  skipDamaged() {
    return this.#write(() => this.#q.skipDamaged());
  }

  /**
   * Records past `maxDeliveries` kept because the subscription has no
   * dead-letter topic: `[{ partition, offset, deliveryCount, reason }]`.
   */
  parked() {
    return this.#call(() => this.#q.parked());
  }

  /**
   * Detaches this consumer: its leases become deliverable again at once
   * (their counts kept). Ends `for await` loops, waits and subscriptions.
   * Closing twice is harmless.
   */
  close() {
    if (this.#closed) return nothingWritten(this.#b);
    this.#closed = true;
    return write(this.#b, true, () => this.#q.close());
  }

  toString() {
    return `Queue { topic: ${JSON.stringify(this.#topic)}, subscription: ${JSON.stringify(this.#subscription)}${this.closed ? ', closed' : ''} }`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }

  static {
    ackTokens = (q, tokens) => q.#write(() => q.#q.ack(tokens));
    nackToken = (q, t, delayMs, reason) => q.#write(() => q.#q.nack(t[0], t[1], t[2], delayMs, reason));
    extendToken = (q, t, ms) => q.#write(() => q.#q.extend(t[0], t[1], t[2], ms));
    nackFailedToken = (q, t, reason) => q.#write(() => q.#q.nackFailed(t[0], t[1], t[2], reason));
  }
}
disposable(Queue);
