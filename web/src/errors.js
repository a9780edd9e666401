// The error classes: `LogpondError` and one subclass per core error code
// (the same classes and codes as the Node package).

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
Object.defineProperty(LogpondError.prototype, 'name', { value: 'LogpondError', writable: true, configurable: true });

/** @type {Map<string, typeof LogpondError>} */
const byCode = new Map();

/** @param {string} name @param {string} code */
function define(name, code) {
  const cls = {
    [name]: class extends LogpondError {
      /** @param {string} message @param {{ cause?: unknown }} [options] */
      constructor(message, options) {
        super(message, code, options);
      }
    },
  }[name];
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  byCode.set(code, cls);
  return cls;
}

export const TopicExists = define('TopicExists', 'TOPIC_EXISTS');
export const TopicNotFound = define('TopicNotFound', 'TOPIC_NOT_FOUND');
export const InvalidName = define('InvalidName', 'INVALID_NAME');
export const InvalidArgument = define('InvalidArgument', 'INVALID_ARGUMENT');
export const RecordTooLarge = define('RecordTooLarge', 'RECORD_TOO_LARGE');
export const Backpressure = define('Backpressure', 'BACKPRESSURE');
export const OffsetOutOfRange = define('OffsetOutOfRange', 'OFFSET_OUT_OF_RANGE');
export const Corruption = define('Corruption', 'CORRUPTION');
export const PondLocked = define('PondLocked', 'POND_LOCKED');
export const Closed = define('Closed', 'CLOSED');
export const CommitFailed = define('CommitFailed', 'COMMIT_FAILED');
export const LeaseExpired = define('LeaseExpired', 'LEASE_EXPIRED');
/** A storage failure: an IndexedDB transaction that failed (quota exceeded, ...). */
export const IoError = define('IoError', 'IO');

/**
 * Turns what the wasm module threw (an `Error` with a `code`) into the
 * error users get. Anything else is a bug: it becomes a LogpondError
 * 'INTERNAL' rather than escaping as a string or a RuntimeError.
 * @param {unknown} e
 * @returns {Error}
 */
export function translate(e) {
  if (e instanceof LogpondError) return e;
  if (e instanceof Error) {
    const code = /** @type {any} */ (e).code;
    const cls = typeof code === 'string' ? byCode.get(code) : undefined;
    if (cls !== undefined) return new cls(e.message);
    if (e instanceof TypeError) return e;
    return new LogpondError(`logpond internal error (a bug): ${e.message}`, 'INTERNAL', { cause: e });
  }
  return new LogpondError(`logpond internal error (a bug): ${String(e)}`, 'INTERNAL', { cause: e });
}

/**
 * A LogpondError of `code` (for checks the JS layer makes itself).
 * @param {string} code @param {string} message @param {{ cause?: unknown }} [options]
 */
export function errorOf(code, message, options) {
  const cls = byCode.get(code);
  return cls !== undefined ? new cls(message, options) : new LogpondError(message, code, options);
}
