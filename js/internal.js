// What the shared modules use among themselves (not part of the public API):
// the mapping of native errors to the error classes, the constructors'
// guard, the wrapper of writing calls, `using` support.

import * as errors from './errors.js';

const { LogpondError } = errors;

/** The error classes by code (a kind the core declares without an exported class is a LogpondError of its code). */
const byCode = new Map(
  Object.values(errors)
    .filter((cls) => cls !== LogpondError)
    .map((cls) => [new cls('').code, cls]),
);

// Codes napi gives a value of the wrong JS type: the JS layer checks types
// first, so these only surface for values it let through by mistake.
const typeCodes = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
]);

/**
 * Turns what a native call threw (an `Error` with the core's `code`) into
 * the error users get. Anything else from the native side is a bug: it
 * becomes a LogpondError 'INTERNAL', never a string or a RuntimeError.
 * @param {unknown} e
 * @returns {unknown}
 */
export function translate(e) {
  if (e instanceof LogpondError) return e;
  const code = /** @type {any} */ (e)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const cls = typeof code === 'string' ? byCode.get(code) : undefined;
  let err;
  if (cls !== undefined) err = new cls(message);
  else if (typeCodes.has(code)) err = new TypeError(message);
  else if (e instanceof TypeError) return e;
  else if (code === 'INTERNAL') err = new LogpondError(message, 'INTERNAL');
  else return new LogpondError(`logpond internal error (a bug): ${message}`, 'INTERNAL', { cause: e });
  // Start the stack at the API method the user called.
  Error.captureStackTrace?.(err, translate);
  return err;
}

/**
 * A LogpondError of `code` (for checks the JS layer makes itself).
 * @param {string} code @param {string} message @param {{ cause?: unknown }} [options]
 */
export function errorOf(code, message, options) {
  const cls = byCode.get(code);
  return cls !== undefined ? new cls(message, options) : new LogpondError(message, code, options);
}

/** Runs a native call, mapping what it throws. @template T @param {() => T} f @returns {T} */
export function call(f) {
  try {
    return f();
  } catch (e) {
    throw translate(e);
  }
}


/**
 * Runs a call that changes the pond, mapping what it throws. A backend
 * with a `write` of its own runs it there (the browser: in a write
 * transaction; the result is then a Promise); otherwise it runs now and
 * the backend is told afterwards (`changed`).
 * @template T @param {import('./pond.js').PondBackend} b @param {boolean} wake @param {() => T} f @returns {T}
 */
export function write(b, wake, f) {
  if (b.write !== undefined) {
    return /** @type {T} */ (/** @type {unknown} */ (b.write(f, wake).catch((e) => Promise.reject(translate(e)))));
  }
  try {
    return f();
  } catch (e) {
    throw translate(e);
  } finally {
    b.changed(wake);
  }
}

/**
 * What a writing call with nothing to write returns: nothing, or where the
 * backend's writes are Promises, a resolved one.
 * @param {import('./pond.js').PondBackend} b @returns {undefined | Promise<void>}
 */
export function nothingWritten(b) {
  return b.write === undefined ? undefined : Promise.resolve();
}

/**
 * `f` of a writing call's result: at once, or when its Promise resolves
 * (a rejection mapped to the error users get).
 * @template T, U @param {T | Promise<T>} v @param {(v: T) => U} f @returns {U}
 */
export function settle(v, f) {
  if (v instanceof Promise) {
    return /** @type {U} */ (/** @type {unknown} */ (v.then(f, (e) => Promise.reject(translate(e)))));
  }
  return f(v);
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
