// Queue: a consumer of a subscription (competing consumers, acks, leases).

import { translate, errorOf } from './errors.js';
import { checkString, checkNumber, checkOptions, checkKeys, checkOptBoolean, checkWait, typeName, unpackRecords } from './convert.js';
import { kQueue } from './internal.js';

const KEYS = new Set(['subscription', 'ackTimeoutMs', 'maxDeliveries', 'deadLetterTopic', 'maxInFlight', 'startAtEnd']);
const RECEIVE_KEYS = new Set(['maxMessages', 'timeoutMs']);
const NACK_KEYS = new Set(['delayMs', 'reason']);
const SUBSCRIBE_KEYS = new Set(['concurrency', 'onError']);

/** Checks `pond.queue(topic, options)` and fills in the defaults. @param {unknown} options */
export function queueArgs(options) {
  if (options == null) throw new TypeError('pond.queue needs options: { subscription }');
  const o = checkOptions(options, 'queue options');
  checkKeys(o, KEYS, 'pond.queue');
  const deadLetterTopic = o.deadLetterTopic == null ? undefined : checkString(o.deadLetterTopic, 'deadLetterTopic');
  return {
    subscription: checkString(o.subscription, 'subscription'),
    // Missing options take the core's defaults.
    ackTimeoutMs: o.ackTimeoutMs == null ? undefined : checkNumber(o.ackTimeoutMs, 'ackTimeoutMs'),
    maxDeliveries: o.maxDeliveries == null ? undefined : checkNumber(o.maxDeliveries, 'maxDeliveries'),
    deadLetterTopic,
    maxInFlight: o.maxInFlight == null ? undefined : checkNumber(o.maxInFlight, 'maxInFlight'),
    startAtEnd: checkOptBoolean(o.startAtEnd, 'startAtEnd') ?? false,
  };
}

/** Queue internals for deliveries and subscriptions (set by Queue's static block). */
/** @type {(q: Queue) => { ack(token: any): void, nack(token: any, delayMs: number, reason: string | undefined): void, nackFailed(token: any, reason: string): void }} */
let settle;
/** Nacks a delivery whose handler failed (the failure backoff). @type {(d: Delivery, reason: string) => void} */
let nackFailed;
/** Runs the pond's waiting receives again (a subscription stopping). @type {(q: Queue) => void} */
let wakeQueue;

/** Reports an error nobody awaits. @param {unknown} e */
function report(e) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else console.error(e);
}

/**
 * A record handed to one queue consumer, leased until `ack()`, `nack()` or
 * the ack timeout.
 */
export class Delivery {
  #queue;
  #token;
  #settled = false;

  /** @param {Queue} queue @param {any} record @param {number} deliveryCount @param {any} token */
  constructor(queue, record, deliveryCount, token) {
    this.#queue = queue;
    this.#token = token;
    /** The record (topic, partition, offset, timestampMs, key, value, headers). */
    this.record = record;
    /** 1 on the first delivery; every redelivery counts. */
    this.deliveryCount = deliveryCount;
  }

  /** Settles the delivery. Throws `LeaseExpired` when its lease ran out (it was or will be delivered again) or it was settled already. */
  ack() {
    this.#settle((token) => settle(this.#queue).ack(token));
  }

  /**
   * Gives the record back: deliverable again after `delayMs` (default 0);
   * `reason` is kept for a dead letter. Throws `LeaseExpired` like `ack`.
   * @param {{ delayMs?: number, reason?: string }} [options]
   */
  nack(options) {
    const o = checkOptions(options, 'nack options');
    checkKeys(o, NACK_KEYS, 'nack');
    const delayMs = o.delayMs == null ? 0 : checkNumber(o.delayMs, 'delayMs');
    const reason = o.reason == null ? undefined : checkString(o.reason, 'reason');
    this.#settle((token) => settle(this.#queue).nack(token, delayMs, reason));
  }

  static {
    nackFailed = (d, reason) => d.#settle((token) => settle(d.#queue).nackFailed(token, reason));
  }

  /** @param {(token: any) => void} f */
  #settle(f) {
    if (this.#settled) throw errorOf('LEASE_EXPIRED', 'this delivery was already acked or nacked');
    f(this.#token);
    this.#settled = true;
    this.#token.free();
  }
}


/**
 * A consumer of a queue subscription: consumers of one subscription
 * compete for its records; each delivery is leased until acked. Get one
 * with `pond.queue(topic, { subscription })`.
 */
export class Queue {
  #w;
  /** @type {import('./consumer.js').Context} */
  #ctx;
  #topic;
  #subscription;
  #closed = false;

  /** @private use `pond.queue(topic, options)` */
  constructor(
    /** @type {symbol} */ token,
    /** @type {any} */ w,
    /** @type {import('./consumer.js').Context} */ ctx,
    /** @type {string} */ topic,
    /** @type {string} */ subscription,
  ) {
    if (token !== kQueue) throw new TypeError('use pond.queue(topic, options) to get a Queue');
    this.#w = w;
    this.#ctx = ctx;
    this.#topic = topic;
    this.#subscription = subscription;
  }

  get topic() {
    return this.#topic;
  }

  get subscription() {
    return this.#subscription;
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

  /** @param {number} max @returns {Delivery[]} */
  #receiveNow(max) {
    let packed;
    try {
      packed = this.#w.receive(max);
    } catch (e) {
      throw translate(e);
    } finally {
      this.#ctx.touched(false);
    }
    const counts = packed[3];
    const tokens = packed[4];
    const got = unpackRecords(packed, (r, i) => new Delivery(this, r, counts[i], tokens[i]));
    // Unacked, these become deliverable again when their lease runs out.
    if (got.length > 0) this.#scheduleDue();
    return got;
  }

  /** Sets the hub's wake-up for the next time a record comes due (the core says when). */
  #scheduleDue() {
    const due = this.#call((w) => w.nextDueMs());
    if (due !== undefined) this.#ctx.hub.due(due);
  }

  /** @param {number} max @param {number} timeoutMs @param {() => boolean} [stop] @returns {Promise<Delivery[]>} */
  #receive(max, timeoutMs, stop) {
    const first = this.#receiveNow(max);
    if (first.length > 0 || timeoutMs === 0) return Promise.resolve(first);
    const done = stop === undefined ? () => this.closed : () => this.closed || stop();
    return this.#ctx.hub.wait(() => this.#receiveNow(max), done, timeoutMs);
  }

  /**
   * Up to `maxMessages` (default 1) deliveries. With `timeoutMs` > 0
   * (default 0; `Infinity` waits for ever) waits for a record to be sent,
   * nacked or released in this pond, or a lease to run out; resolves with
   * `[]` at the timeout or when the queue or the pond closes.
   * @param {{ maxMessages?: number, timeoutMs?: number }} [options]
   */
  async receive(options) {
    const o = checkOptions(options, 'receive options');
    checkKeys(o, RECEIVE_KEYS, 'receive');
    const max = o.maxMessages == null ? 1 : checkNumber(o.maxMessages, 'maxMessages');
    return this.#receive(max, checkWait(o.timeoutMs, 'timeoutMs', 0));
  }

  /** Every delivery, one at a time, waiting for new ones; ends when the queue (or the pond) closes. */
  async *[Symbol.asyncIterator]() {
    while (!this.closed) {
      let got;
      try {
        got = await this.#receive(1, Infinity);
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      if (got.length > 0) yield got[0];
    }
  }

  /**
   * Push delivery: runs `handler` on each delivery, `concurrency` (default
   * 1) at a time; a handler that resolves acks, one that throws or rejects
   * nacks (its message is the reason). Errors of the ack or nack itself
   * (a lease that ran out) go to `onError` (default: `reportError`).
   * @param {(d: Delivery) => unknown} handler
   * @param {{ concurrency?: number, onError?: (e: unknown) => void }} [options]
   */
  subscribe(handler, options) {
    if (typeof handler !== 'function') throw new TypeError(`handler must be a function, got ${typeName(handler)}`);
    const o = checkOptions(options, 'subscribe options');
    checkKeys(o, SUBSCRIBE_KEYS, 'subscribe');
    const concurrency = o.concurrency == null ? 1 : checkNumber(o.concurrency, 'concurrency');
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw errorOf('INVALID_ARGUMENT', `concurrency must be a positive integer, got ${concurrency}`);
    }
    if (o.onError != null && typeof o.onError !== 'function') {
      throw new TypeError(`onError must be a function, got ${typeName(o.onError)}`);
    }
    if (this.closed) throw errorOf('CLOSED', 'queue is closed');
    return new Subscription(this, handler, concurrency, o.onError ?? report, (stop) => this.#receive(1, Infinity, stop));
  }

  /** Unsettled records of the subscription (in flight and parked included). @returns {number} */
  backlog() {
    return this.#call((w) => w.backlog());
  }

  /** Records of the subscription leased to any consumer now. @returns {number} */
  inFlight() {
    return this.#call((w) => w.inFlight());
  }

  /** Records past `maxDeliveries` kept in the subscription (no dead-letter topic). */
  parked() {
    return this.#call((w) => w.parked());
  }

  /** Moves the subscription past damaged batches (after a `Corruption` error from `receive`): their records are settled undelivered. */
  skipDamaged() {
    return this.#call((w) => w.skipDamaged());
  }

  /** Detaches this consumer: its leases are deliverable again at once. Closing twice is harmless. */
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

  static {
    wakeQueue = (q) => q.#ctx.hub.wakeNow();
    settle = (q) => ({
      ack: (token) => {
        q.#call((w) => w.ack(token));
        q.#ctx.touched(true);
      },
      nack: (token, delayMs, reason) => {
        q.#call((w) => w.nack(token, delayMs, reason));
        q.#scheduleDue();
        q.#ctx.touched(true);
      },
      nackFailed: (token, reason) => {
        q.#call((w) => w.nackFailed(token, reason));
        q.#scheduleDue();
        q.#ctx.touched(true);
      },
    });
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(Queue.prototype, Symbol.dispose, {
    value: function dispose() {
      this.close();
    },
    writable: true,
    configurable: true,
  });
}

/** A running `queue.subscribe(handler)`. */
export class Subscription {
  #stopped = false;
  /** @type {Promise<void>[]} */
  #workers = [];
  #queue;

  /**
   * @param {Queue} queue @param {(d: Delivery) => unknown} handler @param {number} concurrency
   * @param {(e: unknown) => void} onError @param {(stop: () => boolean) => Promise<Delivery[]>} receive
   */
  constructor(queue, handler, concurrency, onError, receive) {
    this.#queue = queue;
    const stop = () => this.#stopped;
    const worker = async () => {
      while (!this.#stopped && !queue.closed) {
        let got;
        try {
          got = await receive(stop);
        } catch (e) {
          if (queue.closed) return;
          onError(e);
          return;
        }
        for (const d of got) {
          let ok = true;
          /** @type {unknown} */
          let failure;
          try {
            await handler(d);
          } catch (e) {
            ok = false;
            failure = e;
          }
          try {
            // A failure comes back after a backoff (1 s, doubling per
            // delivery, at most 60 s): never a hot loop.
            if (ok) d.ack();
            else nackFailed(d, String(/** @type {any} */ (failure)?.message ?? failure));
          } catch (e) {
            if (!queue.closed) onError(e);
          }
        }
      }
    };
    for (let i = 0; i < concurrency; i++) this.#workers.push(worker());
  }

  /** Whether `stop()` was called. */
  get stopped() {
    return this.#stopped;
  }

  /** Stops taking deliveries and resolves once the running handlers finished (and acked or nacked). */
  async stop() {
    this.#stopped = true;
    wakeQueue(this.#queue);
    await Promise.all(this.#workers);
  }
}
