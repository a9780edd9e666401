// Waiting for records without a busy loop. A pond has one hub; a `poll`,
// `receive` or waiting `send` that finds nothing parks its attempt here.
// The hub runs the attempts again when something may have changed: after
// a send, ack, nack, group change or close in this pond (`wake`), when the
// manual clock moves, when a queue record falls due (one timer, for the
// earliest time the core's `nextDueMs` gives among the pond's queues), on
// a consumer's heartbeat interval (so a waiting member stays in its
// group), and once more at the timeout. An attempt may return a Promise
// (on an IndexedDB pond it runs in a write transaction): a waiter runs
// one attempt at a time, and a wake during one runs it again after.

/**
 * @typedef {object} Waiter
 * @property {() => any} attempt returns what was found, or null (or a Promise of it); may throw
 * @property {boolean} running an attempt is under way
 * @property {boolean} again woken during it: attempt again after
 * @property {boolean} last the wake during it was the timeout's
 * @property {() => boolean} done true when the wait should end with nothing (closed, stopped)
 * @property {(v: any) => void} resolve
 * @property {(e: unknown) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 * @property {ReturnType<typeof setInterval> | undefined} beat
 */

/** How long a due time already past waits before it is looked at again (ms). */
const PAST_DUE_RETRY_MS = 100;

export class Hub {
  /** @type {Set<Waiter>} */
  #waiters = new Set();
  #scheduled = false;
  /** When each of the pond's queues has a record falling due (the core says; undefined: never). @type {Set<() => number | undefined>} */
  #dues = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #dueTimer;
  #dueTimerAt = Infinity;
  #now;
  #manual;

  /** @param {() => number} now the pond clock @param {boolean} manual whether that clock is a ManualClock */
  constructor(now, manual) {
    this.#now = now;
    this.#manual = manual;
  }

  /**
   * Runs `attempt` now; when it finds nothing (null), waits until it finds
   * something, `done()` says stop, or `timeoutMs` passes (then `attempt`
   * runs a last time). Resolves what it found, or null.
   * @template T
   * @param {() => T | null | Promise<T | null>} attempt @param {() => boolean} done
   * @param {number} timeoutMs may be Infinity @param {number} [heartbeatMs] real-time re-attempt interval
   * @returns {Promise<T | null>}
   */
  wait(attempt, done, timeoutMs, heartbeatMs) {
    return new Promise((resolve, reject) => {
      /** @type {Waiter} */
      const w = { attempt, done, resolve, reject, timer: undefined, beat: undefined, running: false, again: false, last: false };
      this.#waiters.add(w);
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) w.timer = setTimeout(() => this.#run(w, true), timeoutMs);
      if (timeoutMs > 0 && heartbeatMs !== undefined && !this.#manual) w.beat = setInterval(() => this.#run(w, false), heartbeatMs);
      this.#run(w, timeoutMs === 0);
      if (this.#waiters.has(w)) this.dueChanged();
    });
  }

  /** @param {Waiter} w @param {boolean} last */
  #run(w, last) {
    if (!this.#waiters.has(w)) return;
    if (w.running) {
      w.again = true;
      w.last ||= last;
      return;
    }
    w.running = true;
    let found;
    try {
      found = w.done() ? null : w.attempt();
    } catch (e) {
      this.#finish(w);
      w.reject(e);
      return;
    }
    if (found instanceof Promise) {
      found.then(
        (f) => this.#settle(w, f, last),
        (e) => {
          this.#finish(w);
          w.reject(e);
        },
      );
    } else {
      this.#settle(w, found, last);
    }
  }

  /** @param {Waiter} w @param {unknown} found @param {boolean} last */
  #settle(w, found, last) {
    w.running = false;
    if (!this.#waiters.has(w)) return;
    if (found !== null || last || w.done()) {
      this.#finish(w);
      w.resolve(found);
      return;
    }
    if (w.again) {
      const l = w.last;
      w.again = false;
      w.last = false;
      this.#run(w, l);
    }
  }

  /** @param {Waiter} w */
  #finish(w) {
    this.#waiters.delete(w);
    clearTimeout(w.timer);
    clearInterval(w.beat);
  }

  /** Runs the waiting attempts again, soon (once per burst of calls). */
  wake() {
    if (this.#scheduled || this.#waiters.size === 0) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.wakeNow();
    });
  }

  /** Runs the waiting attempts again now. */
  wakeNow() {
    // Waiters that find records leave and, if they wait again, queue up
    // behind the others: competing consumers take turns.
    for (const w of [...this.#waiters]) this.#run(w, false);
    this.dueChanged();
  }

  /** Adds a queue's due time to those the hub wakes at; returns the function that removes it. @param {() => number | undefined} f */
  dueFrom(f) {
    this.#dues.add(f);
    return () => this.#dues.delete(f);
  }

  /** A due time may have changed (a receive, a nack): keeps one timer, for the earliest, while anyone waits. */
  dueChanged() {
    let earliest = Infinity;
    if (this.#waiters.size > 0 && !this.#manual) {
      for (const f of this.#dues) {
        let due;
        try {
          due = f();
        } catch {
          // a queue closed meanwhile: nothing falls due there
        }
        if (due !== undefined && due < earliest) earliest = due;
      }
    }
    // A due time already past that no waiter could take (a consumer at its
    // maxInFlight) is looked at again a slice later, not in a busy loop.
    const now = this.#now();
    if (earliest <= now) earliest = this.#dueTimerAt > now && this.#dueTimerAt < Infinity ? this.#dueTimerAt : now + PAST_DUE_RETRY_MS;
    if (earliest === this.#dueTimerAt) return;
    this.#disarm();
    if (earliest === Infinity) return;
    this.#dueTimerAt = earliest;
    this.#dueTimer = setTimeout(() => {
      this.#dueTimer = undefined;
      this.#dueTimerAt = Infinity;
      this.wakeNow();
    }, earliest - now + 1);
  }

  #disarm() {
    clearTimeout(this.#dueTimer);
    this.#dueTimer = undefined;
    this.#dueTimerAt = Infinity;
  }

  /** Ends every wait with what its attempt finds (nothing, once closed). */
  closeAll() {
    for (const w of [...this.#waiters]) this.#run(w, true);
    this.#disarm();
    this.#dues.clear();
  }
}
