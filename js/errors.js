// The error classes: `LogpondError` and one subclass per kind the core
// declares (`ErrorCode`: class name and code, asked of the native module).
// Every export here is public (the packages re-export this module whole);
// the mapping of what a binding throws to these classes is in internal.js.

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

for (const [name, code] of errorKinds()) {
  classes[name] = {
    [name]: class extends LogpondError {
      /** @param {string} message @param {{ cause?: unknown }} [options] */
      constructor(message, options) {
        super(message, code, options);
      }
    },
  }[name];
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
