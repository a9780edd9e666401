// What the shared modules use among themselves (not part of the public API):
// the constructors' guard, the wrapper of writing calls, `using` support.

import { translate } from './errors.js';

/**
 * Runs a call that changes the pond, mapping what it throws; tells the
 * backend afterwards (a browser pond schedules its flush and wakes its
 * waiters).
 * @template T @param {import('./pond.js').PondBackend} b @param {boolean} wake @param {() => T} f @returns {T}
 */
export function write(b, wake, f) {
  try {
    return f();
  } catch (e) {
    throw translate(e);
  } finally {
    b.changed(wake);
  }
}

/** Guards the constructors: ponds come from the packages' factories, consumers and queues from ponds. */
export const kCreate = Symbol('logpond.create');

/** @param {Function} cls @param {symbol} symbol @param {Function} f */
function define(cls, symbol, f) {
  Object.defineProperty(cls.prototype, symbol, { value: f, writable: true, configurable: true });
}

/** `using` and `await using` close its objects. @param {Function} cls */
export function disposable(cls) {
  if (typeof Symbol.dispose === 'symbol') {
    define(cls, Symbol.dispose, function dispose() {
      this.close();
    });
  }
  if (typeof Symbol.asyncDispose === 'symbol') {
    define(cls, Symbol.asyncDispose, async function asyncDispose() {
      await this.close();
    });
  }
}
