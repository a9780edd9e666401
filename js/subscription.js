// Subscription: push delivery from a queue consumer to a handler (see
// `Queue.subscribe`), up to `concurrency` handlers at a time; a handler's
// return acks, a failure nacks (after the core's failure backoff).

import { report } from '../backend.js';
import { typeName, checkOptions, checkKeys, checkCount, checkOptNumber, checkOptFunction } from './check.js';
import { kCreate } from './internal.js';
import { nackFailedToken, deliveryParts, markDone } from './queue.js';

const SUBSCRIBE_KEYS = new Set(['concurrency', 'nackDelayMs', 'onError']);

/**
 * The handler and options of `queue.subscribe`, checked.
 * @param {unknown} handler @param {unknown} options
 */
export function subscribeOptions(handler, options) {
  if (typeof handler !== 'function') throw new TypeError(`the subscribe handler must be a function, got ${typeName(handler)}`);
  const o = checkOptions(options, 'subscribe options');
  checkKeys(o, SUBSCRIBE_KEYS, 'subscribe');
  return {
    concurrency: checkCount(o.concurrency, 'concurrency', 1, 1),
    /** @type {number | null} null: the failure backoff */
    nackDelayMs: checkOptNumber(o.nackDelayMs, 'nackDelayMs') ?? null,
    /** @type {((error: unknown, delivery: any) => void) | null} */
    onError: /** @type {any} */ (checkOptFunction(o.onError, 'onError')) ?? null,
  };
}

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
export class Subscription {
  #queue;
  #handler;
  #concurrency;
  #nackDelayMs;
  #onError;
  #fetch;
  #wake;
  #stopping = false;
  /** @type {Set<Promise<void>>} */
  #running = new Set();
  /** Resolves the wait for a free slot. @type {(() => void) | null} */
  #slotFreed = null;
  /** @type {Promise<void>} */
  #done;

  /**
   * @private Use `queue.subscribe(handler, options)`.
   * @param {symbol} token @param {import('./queue.js').Queue} queue @param {Function} handler
   * @param {ReturnType<typeof subscribeOptions>} options
   * @param {{ fetch: (max: number, stopped: () => boolean) => Promise<import('./queue.js').Delivery[]>, wake: () => void }} receiving
   *   how it receives, and how a stop ends a waiting receive
   */
  constructor(token, queue, handler, options, receiving) {
    if (token !== kCreate) throw new TypeError('use queue.subscribe(handler) to get a Subscription');
    this.#queue = queue;
    this.#handler = handler;
    this.#concurrency = options.concurrency;
    this.#nackDelayMs = options.nackDelayMs;
    this.#onError = options.onError;
    this.#fetch = receiving.fetch;
    this.#wake = receiving.wake;
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

  /** Whether it stopped (`!running`). */
  get stopped() {
    return this.#stopping;
  }

  /** Resolves once it has stopped and every handler it started has finished. */
  get done() {
    return this.#done;
  }

  /** Stops receiving; resolves once the running handlers have finished (and their deliveries are settled). */
  stop() {
    this.#stopping = true;
    this.#slotFreed?.();
    this.#wake();
    return this.#done;
  }

  /** @param {unknown} error @param {import('./queue.js').Delivery | null} delivery */
  #report(error, delivery) {
    if (this.#onError !== null) {
      try {
        this.#onError(error, delivery);
        return;
      } catch (e) {
        error = e; // a failing onError is reported the default way
      }
    }
    report(error);
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

  /** @param {import('./queue.js').Delivery} d */
  #start(d) {
    const task = this.#handle(d).finally(() => {
      this.#running.delete(task);
      this.#slotFreed?.();
    });
    this.#running.add(task);
  }

  /** Runs the handler on one delivery and settles it. @param {import('./queue.js').Delivery} d */
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
    else {
      this.failed++;
      this.#report(error, d); // never silently: the retry comes after a backoff
    }
    if (d.done) return; // the handler settled it
    try {
      if (ok) await d.ack();
      else if (this.#nackDelayMs !== null) await d.nack({ delayMs: this.#nackDelayMs, reason: reasonOf(error) });
      else {
        const { queue, token } = deliveryParts(d);
        markDone(d);
        await nackFailedToken(queue, token, reasonOf(error));
      }
    } catch (e) {
      this.#report(e, d);
    }
  }

  toString() {
    return `Subscription { ${this.#queue.topic}/${this.#queue.subscription}, concurrency: ${this.#concurrency}, handled: ${this.handled}, failed: ${this.failed}${this.running ? '' : ', stopped'} }`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
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
