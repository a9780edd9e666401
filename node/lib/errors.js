'use strict';
// The error classes: `LogpondError` and one subclass per core error code.

/** Base class of every error logpond throws on purpose (bad types aside: those are TypeError). */
class LogpondError extends Error {
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

const classes = { LogpondError };
/** @type {Map<string, typeof LogpondError>} */
const byCode = new Map();

function define(name, code) {
  const cls = {
    [name]: class extends LogpondError {
      constructor(message, options) {
        super(message, code, options);
      }
    },
  }[name];
  classes[name] = cls;
  byCode.set(code, cls);
}

// One class per kind the core declares (`ErrorCode`: class name and code).
for (const [name, code] of require('./native').errorKinds()) define(name, code);

for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

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
 * Turns an error thrown by the native addon into the error users get.
 * @param {unknown} e
 * @returns {unknown}
 */
function translate(e) {
  if (!(e instanceof Error) || e instanceof LogpondError) return e;
  const code = /** @type {any} */ (e).code;
  if (typeof code !== 'string') return e;
  const cls = byCode.get(code);
  let err;
  if (cls !== undefined) err = new cls(e.message);
  else if (typeCodes.has(code)) err = new TypeError(e.message);
  else if (code === 'INTERNAL') err = new LogpondError(e.message, 'INTERNAL');
  else return e;
  // Start the stack at the API method the user called.
  Error.captureStackTrace(err, translate);
  return err;
}

/** A LogpondError of `code` (for checks the JS layer makes itself). */
function errorOf(code, message) {
  const cls = byCode.get(code);
  return cls !== undefined ? new cls(message) : new LogpondError(message, code);
}

module.exports = { ...classes, translate, errorOf };
