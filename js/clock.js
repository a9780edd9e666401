// ManualClock: time that moves only when told to, for tests.

import { NativeClock } from '../backend.js';
import { call } from './internal.js';
import { checkTime, checkNumber } from './check.js';

/** @type {(clock: ManualClock) => { native: any, listeners: Set<() => void> }} */
let internals;

/**
 * A clock that moves only when told to. Give it to a pond (`Pond.memory({
 * clock })`, ...): record timestamps, retention, segment age, ack timeouts,
 * nack delays, session timeouts and auto-commit intervals then follow it,
 * not the wall clock. Moving it wakes the ponds' waiting polls and receives.
 */
export class ManualClock {
  #native;
  /** @type {Set<() => void>} */
  #listeners = new Set();

  /** @param {number | bigint | Date} [startMs] epoch milliseconds (default 0) */
  constructor(startMs = 0) {
    const ms = checkTime(startMs, 'startMs');
    this.#native = call(() => new NativeClock(ms));
  }

  /** Moves the clock by `ms` milliseconds (backwards when negative). @param {number | bigint} ms */
  advance(ms) {
    const n = checkNumber(ms, 'ms');
    call(() => this.#native.advance(n));
    this.#moved();
  }

  /** Sets the clock to `ms` epoch milliseconds. @param {number | bigint | Date} ms */
  set(ms) {
    const n = checkTime(ms, 'ms');
    call(() => this.#native.set(n));
    this.#moved();
  }

  /** The clock's time in epoch milliseconds. */
  nowMs() {
    return this.#native.nowMs();
  }

  #moved() {
    for (const f of [...this.#listeners]) f();
  }

  static {
    internals = (clock) => ({ native: clock.#native, listeners: clock.#listeners });
  }
}

/**
 * The native clock of a `clock` option (undefined when absent) and a way
 * to hear of its moves (`subscribe(f)` returns the unsubscribe function).
 * @param {unknown} clock @param {string} what
 */
export function clockOption(clock, what) {
  if (clock == null) return undefined;
  if (!(clock instanceof ManualClock)) throw new TypeError(`${what} must be a ManualClock`);
  const { native, listeners } = internals(clock);
  return {
    native,
    /** @param {() => void} f */
    subscribe(f) {
      listeners.add(f);
      return () => listeners.delete(f);
    },
  };
}
