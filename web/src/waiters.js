// Waiting for records without a busy loop. A pond has one hub; `poll` and
// `receive` that find nothing park an attempt here. The hub runs the
// attempts again when something may have changed: after a send, ack, nack,
// group change or close in this pond (the JS layer calls `wake`), when the
// manual clock moves, when a queue lease or nack delay falls due (a timer
// for the earliest known due time), on a consumer's heartbeat interval (so a
// waiting member stays in its group), and once more at the timeout.

/**
 * @typedef {object} Waiter
 * @property {() => any[]} attempt returns what was found (empty: nothing yet); may throw
 * @property {() => boolean} done true when the wait should end with nothing (closed, stopped)
 * @property {(v: any[]) => void} resolve
 * @property {(e: unknown) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 * @property {ReturnType<typeof setInterval> | undefined} beat
 */

export class Hub {
  /** @type {Set<Waiter>} */
  #waiters = new Set();
  #scheduled = false;
  /** Clock times (ms) at which a queue record may become deliverable again. */
  #dues = new MinHeap();
  /** The last due time noted (dues are rounded up to DUE_GRAIN_MS and deduplicated). */
  #lastDue = -Infinity;
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
   * Waits until `attempt` finds something, `done()` says stop, or
   * `timeoutMs` passes (then `attempt` runs a last time).
   * @param {() => any[]} attempt @param {() => boolean} done
   * @param {number} timeoutMs may be Infinity @param {number} [heartbeatMs] real-time re-attempt interval
   * @returns {Promise<any[]>}
   */
  wait(attempt, done, timeoutMs, heartbeatMs) {
    return new Promise((resolve, reject) => {
      /** @type {Waiter} */
      const w = { attempt, done, resolve, reject, timer: undefined, beat: undefined };
      if (Number.isFinite(timeoutMs)) w.timer = setTimeout(() => this.#run(w, true), timeoutMs);
      if (heartbeatMs !== undefined && !this.#manual) w.beat = setInterval(() => this.#run(w, false), heartbeatMs);
      this.#waiters.add(w);
      this.#arm();
    });
  }

  get waiting() {
    return this.#waiters.size;
  }

  /** @param {Waiter} w @param {boolean} last */
  #run(w, last) {
    if (!this.#waiters.has(w)) return;
    let found;
    try {
      found = w.done() ? [] : w.attempt();
    } catch (e) {
      this.#finish(w);
      w.reject(e);
      return;
    }
    if (found.length > 0 || last || w.done()) {
      this.#finish(w);
      w.resolve(found);
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
    const now = this.#now();
    // Waiters that find records leave and, if they wait again, queue up
    // behind the others: competing consumers take turns.
    for (const w of [...this.#waiters]) this.#run(w, false);
    while (this.#dues.size > 0 && this.#dues.peek() <= now) this.#dues.pop();
    this.#arm();
  }

  /** Notes a clock time at which a queue record becomes deliverable again. @param {number} atMs */
  due(atMs) {
    const t = Math.ceil(atMs / DUE_GRAIN_MS) * DUE_GRAIN_MS;
    if (t !== this.#lastDue) {
      this.#lastDue = t;
      this.#dues.push(t);
    }
    this.#arm();
  }

  /** Keeps one timer, for the earliest due time, while anyone waits. */
  #arm() {
    // Due times that passed: the waiters' attempts see their records now.
    const now = this.#now();
    let passed = false;
    while (this.#dues.size > 0 && this.#dues.peek() <= now) {
      this.#dues.pop();
      passed = true;
    }
    if (passed) this.wake();
    if (this.#waiters.size === 0 || this.#dues.size === 0 || this.#manual) {
      this.#disarm();
      return;
    }
    const earliest = this.#dues.peek();
    if (earliest === this.#dueTimerAt) return;
    this.#disarm();
    this.#dueTimerAt = earliest;
    const delay = Math.max(0, earliest - this.#now()) + 1;
    this.#dueTimer = setTimeout(() => {
      this.#dueTimer = undefined;
      this.#dueTimerAt = Infinity;
      this.wakeNow();
    }, delay);
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
    this.#dues = new MinHeap();
  }
}

/** Due times are kept at this granularity (ms), so a busy queue notes few. */
const DUE_GRAIN_MS = 10;

/** A binary min-heap of numbers. */
class MinHeap {
  /** @type {number[]} */
  #a = [];

  get size() {
    return this.#a.length;
  }

  peek() {
    return this.#a[0];
  }

  /** @param {number} v */
  push(v) {
    const a = this.#a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= v) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = v;
  }

  pop() {
    const a = this.#a;
    const top = a[0];
    const last = /** @type {number} */ (a.pop());
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
