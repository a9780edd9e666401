// ManualClock: time that moves only when told to, for tests.

import { WasmClock } from './wasm.js';
import { translate } from './errors.js';
import { checkNumber, checkTime } from './convert.js';

/** @type {(clock: ManualClock) => { wasm: WasmClock, listeners: Set<() => void> }} */
let internals;

/**
 * A clock that moves only when told to. Give it to `Pond.memory({ clock })`
 * or `Pond.openIndexedDb(name, { clock })`: record timestamps, retention,
 * ack timeouts and session timeouts then follow it, not the wall clock.
 * Moving it wakes the ponds' waiting `poll`s and `receive`s.
 */
export class ManualClock {
  #wasm;
  /** @type {Set<() => void>} */
  #listeners = new Set();

  /** @param {number | bigint | Date} [startMs] epoch milliseconds (default 0) */
  constructor(startMs = 0) {
    const ms = checkTime(startMs, 'startMs');
    try {
      this.#wasm = new WasmClock(ms);
    } catch (e) {
      throw translate(e);
    }
  }

  /** Moves the clock by `ms` milliseconds (backwards when negative). @param {number | bigint} ms */
  advance(ms) {
    const n = checkNumber(ms, 'ms');
    try {
      this.#wasm.advance(n);
    } catch (e) {
      throw translate(e);
    }
    this.#changed();
  }

  /** Sets the clock to `ms` epoch milliseconds. @param {number | bigint | Date} ms */
  set(ms) {
    const n = checkTime(ms, 'ms');
    try {
      this.#wasm.set(n);
    } catch (e) {
      throw translate(e);
    }
    this.#changed();
  }

  /** The clock's time in epoch milliseconds. */
  nowMs() {
    return this.#wasm.now();
  }

  #changed() {
    for (const f of [...this.#listeners]) f();
  }

  static {
    internals = (clock) => ({ wasm: clock.#wasm, listeners: clock.#listeners });
  }
}

/**
 * The wasm clock handle of a `clock` option (undefined when absent), and a
 * function to subscribe to its changes.
 * @param {unknown} clock @param {string} what
 */
export function clockOption(clock, what) {
  if (clock == null) return undefined;
  if (!(clock instanceof ManualClock)) throw new TypeError(`${what} must be a ManualClock`);
  const { wasm, listeners } = internals(clock);
  return {
    handle: () => wasm.share(),
    /** @param {() => void} f */
    subscribe(f) {
      listeners.add(f);
      return () => listeners.delete(f);
    },
  };
}
