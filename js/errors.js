// The error classes: `LogpondError` and one subclass per kind the core
// declares (`ErrorCode`: class name and code, asked of the native module),
// and the mapping of what a binding throws to them.

import { errorKinds } from '../backend.js';

/** Base class of every error logpond throws on purpose (bad argument types are TypeError). */
export class LogpondError extends Error {
  /**
   * @param {string} message
   * @param {string} [code]
   * @param {{ cause?: unknown }} [options]
   */
  constructor(message, code, options) {
    super(message, options);
    /** The stable code, e.g. 'TOPIC_EXISTS'. */
    this.code = code ?? 'INTERNAL';
  }
}

/** @type {Record<string, typeof LogpondError>} */
const classes = { LogpondError };
/** @type {Map<string, typeof LogpondError>} */
const byCode = new Map();

for (const [name, code] of errorKinds()) {
  classes[name] = {
    [name]: class extends LogpondError {
      /** @param {string} message @param {{ cause?: unknown }} [options] */
      constructor(message, options) {
        super(message, code, options);
      }
    },
  }[name];
  byCode.set(code, classes[name]);
}
for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

export const {
  TopicExists,
  TopicNotFound,
  InvalidName,
  InvalidArgument,
  RecordTooLarge,
  Backpressure,
  OffsetOutOfRange,
  Corruption,
  PondLocked,
  Closed,
  CommitFailed,
  LeaseExpired,
  IoError,
} = classes;

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
