'use strict';
// ManualClock: time that moves only when told to, for tests.

const native = require('./native');
const { translate } = require('./errors');
const { checkTime, checkNumber } = require('./convert');

/** @type {(clock: ManualClock) => any} */
let handleOf;

/**
 * A clock that moves only when told to. Give it to `Pond.memory({ clock })`
 * or `Pond.open(path, { clock })`; retention, segment age, ack timeouts,
 * nack delays, session timeouts and auto-commit intervals then follow it,
 * not the wall clock. (A wait in progress notices a move within 100 ms.)
 */
class ManualClock {
  #native;

  /** @param {number | bigint | Date} [startMs] epoch milliseconds (default 0) */
  constructor(startMs = 0) {
    const ms = checkTime(startMs, 'startMs');
    try {
      this.#native = new native.NativeManualClock(ms);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Moves the clock by `ms` milliseconds (backwards when negative). */
  advance(ms) {
    const n = checkNumber(ms, 'ms');
    try {
      this.#native.advance(n);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Sets the clock to `ms` epoch milliseconds. */
  set(ms) {
    const n = checkTime(ms, 'ms');
    try {
      this.#native.set(n);
    } catch (e) {
      throw translate(e);
    }
  }

  /** The clock's time in epoch milliseconds. */
  nowMs() {
    return this.#native.nowMs();
  }

  static {
    handleOf = (clock) => clock.#native;
  }
}

/** The native clock of a ManualClock option (undefined when absent). */
function clockHandle(clock, what) {
  if (clock == null) return undefined;
  if (!(clock instanceof ManualClock)) {
    throw new TypeError(`${what} must be a ManualClock`);
  }
  return handleOf(clock);
}

module.exports = { ManualClock, clockHandle };
