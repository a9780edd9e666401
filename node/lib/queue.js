'use strict';
// Queue: a consumer of a named subscription on a topic (the
// traditional-broker side): competing consumers, leases, ack / nack,
// redelivery, dead letters. `receive` and `for await` wait off the event
// loop (see lib/wait.js); `subscribe` pushes deliveries to a handler.

const native = require('./native');
const { translate, errorOf } = require('./errors');
const {
  typeName,
  checkString,
  checkNumber,
  checkOptNumber,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  unpackBatch,
} = require('./convert');
const { waitOptions, waitSliced, checkCount, notFunction } = require('./wait');
const { disposable } = require('./consumer');

const QUEUE_KEYS = new Set([
  'subscription',
  'ackTimeoutMs',
  'maxDeliveries',
  'deadLetterTopic',
  'maxInFlight',
  'startAtEnd',
]);
const NACK_KEYS = new Set(['delayMs', 'reason']);
const SUBSCRIBE_KEYS = new Set(['concurrency', 'nackDelayMs', 'onError']);

/** Guards the constructors: queues come from `pond.queue(...)`, deliveries from receiving. */
const kCreate = Symbol('logpond.queue');

/**
 * The native options of `pond.queue(topic, options)`, type-checked.
 * @param {unknown} options
 */
function queueOptions(options) {
  if (options == null) throw new TypeError("pond.queue needs options: { subscription: 'name' }");
  if (typeof options === 'string') return { subscription: options };
  const o = checkOptions(options, 'queue options');
  checkKeys(o, QUEUE_KEYS, 'pond.queue');
  /** @type {Record<string, unknown>} */
  const out = { subscription: checkString(o.subscription, 'subscription') };
  for (const k of ['ackTimeoutMs', 'maxDeliveries', 'maxInFlight']) {
    const v = checkOptNumber(o[k], k);
    if (v !== undefined) out[k] = v;
  }
  if (o.deadLetterTopic != null) out.deadLetterTopic = checkString(o.deadLetterTopic, 'deadLetterTopic');
  const startAtEnd = checkOptBoolean(o.startAtEnd, 'startAtEnd');
  if (startAtEnd !== undefined) out.startAtEnd = startAtEnd;
  return out;
}

/** @type {(q: Queue, tokens: Float64Array) => void} */
let ackTokens;
/** @type {(q: Queue, token: Float64Array, delayMs: number, reason: string | undefined) => void} */
let nackToken;
/** @type {(q: Queue, token: Float64Array, reason: string) => void} */
let nackFailedToken;
/** @type {(d: Delivery) => { queue: Queue, token: Float64Array }} */
let deliveryParts;
/** @type {(d: Delivery) => void} */
let markDone;

/**
 * A record leased to a queue consumer until it is acked, nacked, or its
 * ack timeout passes.
 */
class Delivery {
  #queue;
  /** The delivery's token: the record's partition and offset, and the lease id. */
  #token;
  #done = false;

  /** @private Deliveries come from `queue.receive()`, iteration and `subscribe`. */
  constructor(token, queue, lease, record, deliveryCount) {
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
    ackTokens(this.#queue, this.#token);
    this.#done = true;
  }

  /**
   * Returns it to the subscription, deliverable again after `delayMs`
   * (default 0); `reason` goes into a dead letter's `logpond.dlq.reason`.
   * @param {{ delayMs?: number, reason?: string }} [options]
   */
  nack(options) {
    let delayMs = 0;
    let reason;
    if (options != null) {
      const o = checkOptions(options, 'nack options');
      checkKeys(o, NACK_KEYS, 'nack');
      if (o.delayMs != null) delayMs = checkNumber(o.delayMs, 'delayMs');
      if (o.reason != null) reason = checkString(o.reason, 'reason');
    }
    nackToken(this.#queue, this.#token, delayMs, reason);
    this.#done = true;
  }

  [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) {
    const r = this.record;
    const shown = { topic: r.topic, partition: r.partition, offset: r.offset, deliveryCount: this.deliveryCount };
    return `Delivery ${inspect(shown, options)}${this.#done ? ' (done)' : ''}`;
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
class Queue {
  #handle;
  #pond;
  #topic;
  #subscription;
  #closed = false;

  /** @private Use `pond.queue(topic, options)`. */
  constructor(token, pond, pondHandle, topic, options) {
    if (token !== kCreate) throw new TypeError("use pond.queue(topic, { subscription }) to get a Queue");
    checkString(topic, 'topic');
    const o = queueOptions(options);
    try {
      this.#handle = native.queueCreate(pondHandle, topic, o);
    } catch (e) {
      throw translate(e);
    }
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
    try {
      return f();
    } catch (e) {
      throw translate(e);
    }
  }

  /**
   * Up to `maxMessages` (default 1) deliveries, each leased for the ack
   * timeout. With `timeoutMs` (default 0; `Infinity`: no limit) it waits,
   * off the event loop, for one. Rejects with `Closed` when the queue
   * consumer is closed before one comes.
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
   * Receives natively (on the thread pool).
   * @param {number} max @param {number} timeoutMs @param {() => boolean} stopped
   * @returns {Promise<Delivery[]>}
   */
  async #fetch(max, timeoutMs, stopped) {
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    const h = this.#handle;
    let r;
    try {
      r = await waitSliced((ms) => native.queueReceive(h, max, ms), timeoutMs, stopped);
    } catch (e) {
      throw translate(e);
    }
    /** @type {number[]} */
    const extras = [];
    const records = unpackBatch(r[0], r[1], 2, this.#topic, extras);
    return records.map((rec, i) => new Delivery(kCreate, this, extras[2 * i + 1], rec, extras[2 * i]));
  }

  /**
   * Deliveries one at a time, waiting (off the event loop) when there are
   * none; the loop ends when the queue consumer or its pond is closed.
   * Each must still be acked or nacked.
   * @returns {AsyncGenerator<Delivery, void, undefined>}
   */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.closed) return;
      let got;
      try {
        got = await this.#fetch(1, Infinity, () => this.closed);
      } catch (e) {
        if (/** @type {any} */ (e)?.code === 'CLOSED') return;
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
    if (list.length === 0) return;
    ackTokens(this, tokens);
    for (const d of list) markDone(d);
  }

  /**
   * Push delivery: calls `handler(delivery)` for every delivery, up to
   * `concurrency` (default 1) at a time. A handler that resolves (or
   * returns) acks the delivery; one that rejects (or throws) nacks it,
   * with the error's message as reason: it comes back after `nackDelayMs`,
   * or by default after a backoff (1 s, doubling per delivery, at most
   * 60 s), so one failing record never spins.
   * A handler may also ack or nack by itself. Failures to settle (and
   * receive failures that end the subscription) go to `onError` (default:
   * a process warning). `await sub.stop()` stops receiving and waits for
   * running handlers. The subscription also ends when the queue consumer
   * or its pond is closed.
   * @param {(delivery: Delivery) => unknown} handler
   * @param {{ concurrency?: number, nackDelayMs?: number, onError?: (error: unknown, delivery: Delivery | null) => void }} [options]
   */
  subscribe(handler, options) {
    if (typeof handler !== 'function') throw notFunction(handler, 'the subscribe handler');
    let concurrency = 1;
    /** @type {number | null} null: the failure backoff */
    let nackDelayMs = null;
    /** @type {((error: unknown, delivery: Delivery | null) => void) | null} */
    let onError = null;
    if (options != null) {
      const o = checkOptions(options, 'subscribe options');
      checkKeys(o, SUBSCRIBE_KEYS, 'subscribe');
      concurrency = checkCount(o.concurrency, 'concurrency', 1, 1);
      nackDelayMs = checkOptNumber(o.nackDelayMs, 'nackDelayMs') ?? null;
      if (o.onError != null) {
        if (typeof o.onError !== 'function') throw notFunction(o.onError, 'onError');
        onError = o.onError;
      }
    }
    if (this.#closed) throw errorOf('CLOSED', 'this queue consumer is closed');
    return new Subscription(kCreate, this, handler, concurrency, nackDelayMs, onError, (max, stopped) =>
      this.#fetch(max, Infinity, stopped),
    );
  }

  /** Unsettled records of the subscription (in flight and parked included). */
  backlog() {
    return this.#call(() => native.queueBacklog(this.#handle));
  }

  /** Records of the subscription leased to any of its consumers now. */
  inFlight() {
    return this.#call(() => native.queueInFlight(this.#handle));
  }

  /**
   * Moves the subscription past damaged batches (after a `Corruption` error
   * from `receive`): their records are settled undelivered. Returns the
   * skipped ranges, `toOffset` exclusive.
   */
  skipDamaged() {
    return this.#call(() => native.queueSkipDamaged(this.#handle)).map((r) => ({
      partition: r.partition,
      fromOffset: r.fromOffset,
      toOffset: r.toOffset,
    }));
  }

  /**
   * Records past `maxDeliveries` kept because the subscription has no
   * dead-letter topic: `[{ partition, offset, deliveryCount, reason }]`.
   */
  parked() {
    return this.#call(() => native.queueParked(this.#handle)).map((p) => ({
      partition: p.partition,
      offset: p.offset,
      deliveryCount: p.deliveryCount,
      reason: p.reason,
    }));
  }

  /**
   * Detaches this consumer: its leases become deliverable again at once
   * (their counts kept). Ends `for await` loops, waits and subscriptions.
   * Closing twice is harmless.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      native.queueClose(this.#handle);
    } catch (e) {
      throw translate(e);
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Queue { topic: ${JSON.stringify(this.#topic)}, subscription: ${JSON.stringify(this.#subscription)}${this.closed ? ', closed' : ''} }`;
  }

  static {
    ackTokens = (q, tokens) => q.#call(() => native.queueAck(q.#handle, tokens));
    nackToken = (q, t, delayMs, reason) =>
      q.#call(() => native.queueNack(q.#handle, t[0], t[1], t[2], delayMs, reason));
    nackFailedToken = (q, t, reason) => q.#call(() => native.queueNackFailed(q.#handle, t[0], t[1], t[2], reason));
  }
}
disposable(Queue);

/** The text of a handler's failure, for a nack's reason. @param {unknown} e */
function reasonOf(e) {
  if (e instanceof Error) return e.message || e.name;
  try {
    return String(e);
  } catch {
    return 'handler failed';
  }
}

/**
 * Push delivery from a queue consumer to a handler (see `Queue.subscribe`).
 * `handled` and `failed` count the handler's successes and failures.
 */
class Subscription {
  #queue;
  #handler;
  #concurrency;
  #nackDelayMs;
  #onError;
  #fetch;
  #stopping = false;
  /** @type {Set<Promise<void>>} */
  #running = new Set();
  /** Resolves the wait for a free slot. @type {(() => void) | null} */
  #slotFreed = null;
  /** @type {Promise<void>} */
  #done;

  /** @private Use `queue.subscribe(handler, options)`. */
  constructor(token, queue, handler, concurrency, nackDelayMs, onError, fetch) {
    if (token !== kCreate) throw new TypeError('use queue.subscribe(handler) to get a Subscription');
    this.#queue = queue;
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#nackDelayMs = nackDelayMs;
    this.#onError = onError;
    this.#fetch = fetch;
    /** Deliveries whose handler resolved. */
    this.handled = 0;
    /** Deliveries whose handler rejected (or threw). */
    this.failed = 0;
    this.#done = this.#run();
  }

  /** The queue consumer it receives from. */
  get queue() {
    return this.#queue;
  }

  /** True until it stops (by `stop()`, or its queue consumer or pond closing). */
  get running() {
    return !this.#stopping;
  }

  /** Resolves once it has stopped and every handler it started has finished. */
  get done() {
    return this.#done;
  }

  /** Stops receiving; resolves once the running handlers have finished (and their deliveries are settled). */
  stop() {
    this.#stopping = true;
    this.#slotFreed?.();
    return this.#done;
  }

  /** @param {unknown} error @param {Delivery | null} delivery */
  #report(error, delivery) {
    if (this.#onError !== null) {
      try {
        this.#onError(error, delivery);
        return;
      } catch (e) {
        error = e; // a failing onError is reported the default way
      }
    }
    const e = error instanceof Error ? error : new Error(String(error));
    process.emitWarning(e.message, { type: 'LogpondSubscriptionWarning', code: /** @type {any} */ (e).code });
  }

  async #run() {
    const stopped = () => this.#stopping || this.#queue.closed;
    while (!stopped()) {
      const room = this.#concurrency - this.#running.size;
      if (room === 0) {
        await new Promise((resolve) => {
          this.#slotFreed = () => resolve(undefined);
        });
        this.#slotFreed = null;
        continue;
      }
      let got;
      try {
        got = await this.#fetch(room, stopped);
      } catch (e) {
        if (/** @type {any} */ (e)?.code !== 'CLOSED') this.#report(e, null);
        break;
      }
      for (const d of got) this.#start(d);
    }
    this.#stopping = true;
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** @param {Delivery} d */
  #start(d) {
    const task = this.#handle(d).finally(() => {
      this.#running.delete(task);
      this.#slotFreed?.();
    });
    this.#running.add(task);
  }

  /** Runs the handler on one delivery and settles it. @param {Delivery} d */
  async #handle(d) {
    let ok = true;
    let error;
    try {
      await this.#handler(d);
    } catch (e) {
      ok = false;
      error = e;
    }
    if (ok) this.handled++;
    else this.failed++;
    if (d.done) return; // the handler settled it
    try {
      if (ok) d.ack();
      else if (this.#nackDelayMs !== null) d.nack({ delayMs: this.#nackDelayMs, reason: reasonOf(error) });
      else {
        const { queue, token } = deliveryParts(d);
        nackFailedToken(queue, token, reasonOf(error));
        markDone(d);
      }
    } catch (e) {
      this.#report(e, d);
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Subscription { ${this.#queue.topic}/${this.#queue.subscription}, concurrency: ${this.#concurrency}, handled: ${this.handled}, failed: ${this.failed}${this.running ? '' : ', stopped'} }`;
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Object.defineProperty(Subscription.prototype, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.stop();
    },
    writable: true,
    configurable: true,
  });
}

module.exports = { Queue, Delivery, Subscription, kCreate };
