// Argument checks: wrong JS types throw TypeError here, before the native
// call; value ranges are checked natively (the JS number rules of the
// bindings' shared crate) and throw InvalidArgument.

import { errorOf } from './internal.js';
import { asBytes, BYTES } from '../backend.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Shared by every call that takes no options. */
export const EMPTY = Object.freeze({});

/** @param {unknown} v */
export function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    let name = 'Object';
    try {
      name = v.constructor?.name ?? 'null prototype';
    } catch {
      // A hostile getter: the type name is only for the message.
    }
    return `an object (${name})`;
  }
  return typeof v;
}

/** @param {unknown} v @param {string} what @returns {string} */
export function checkString(v, what) {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeName(v)}`);
  return v;
}

/**
 * Bytes or a string (the bytes types the package takes: `BYTES`).
 * @param {unknown} v @param {string} what @returns {string | Uint8Array}
 */
export function checkData(v, what) {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  const bytes = asBytes(v);
  if (bytes !== undefined) return bytes;
  throw new TypeError(`${what} must be a ${BYTES} or string, got ${typeName(v)}`);
}

/**
 * A number (or a bigint within the safe range). Integer-ness and range are
 * checked natively, so that a native caller gets the same checks.
 * @param {unknown} v @param {string} what @returns {number}
 */
export function checkNumber(v, what) {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (v > MAX_SAFE_BIG || v < -MAX_SAFE_BIG) {
      throw errorOf(
        'INVALID_ARGUMENT',
        `${what} ${v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1): logpond offsets and times are numbers`,
      );
    }
    return Number(v);
  }
  throw new TypeError(`${what} must be a number, got ${typeName(v)}`);
}

/** @param {unknown} v @param {string} what @returns {number | undefined} */
export function checkOptNumber(v, what) {
  return v == null ? undefined : checkNumber(v, what);
}

/** Epoch milliseconds: a number, bigint or Date. @param {unknown} v @param {string} what */
export function checkTime(v, what) {
  if (v instanceof Date) return v.getTime();
  return checkNumber(v, what);
}

/** @param {unknown} v @param {string} what @returns {Record<string, any>} */
export function checkOptions(v, what) {
  if (v == null) return EMPTY;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${what} must be an object, got ${typeName(v)}`);
  }
  return /** @type {Record<string, any>} */ (v);
}

/**
 * Refuses option names a function does not know (a typo in a retention or
 * durability option would otherwise pass silently).
 * @param {Record<string, any>} o @param {ReadonlySet<string>} known @param {string} what
 */
export function checkKeys(o, known, what) {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) {
      throw new TypeError(`${what}: unknown option '${k}' (known: ${[...known].join(', ')})`);
    }
  }
}

/** @param {unknown} v @param {string} what @returns {boolean | undefined} */
export function checkOptBoolean(v, what) {
  if (v == null) return undefined;
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeName(v)}`);
  return v;
}

/** @param {unknown} v @param {string} what @returns {Function | undefined} */
export function checkOptFunction(v, what) {
  if (v == null) return undefined;
  if (typeof v !== 'function') throw new TypeError(`${what} must be a function, got ${typeName(v)}`);
  return v;
}

/**
 * A timeout or interval: milliseconds >= 0, or Infinity (no limit).
 * @param {unknown} v @param {string} what @param {number} [fallback] @returns {number}
 */
export function checkTimeout(v, what, fallback = 0) {
  if (v == null) return fallback;
  const ms = checkNumber(v, what);
  if (ms === Infinity) return ms;
  if (!Number.isFinite(ms) || ms < 0) {
    throw errorOf('INVALID_ARGUMENT', `${what} must be a number of milliseconds >= 0 (or Infinity), got ${ms}`);
  }
  return ms;
}

/**
 * A count option (maxRecords, maxMessages, concurrency): an integer >= `min`.
 * @param {unknown} v @param {string} what @param {number} fallback @param {number} min @returns {number}
 */
export function checkCount(v, what, fallback, min) {
  if (v == null) return fallback;
  const n = checkNumber(v, what);
  if (!Number.isSafeInteger(n) || n < min) {
    throw errorOf('INVALID_ARGUMENT', `${what} must be an integer >= ${min}, got ${n}`);
  }
  return n;
}

/**
 * The `{ [countName], timeoutMs }` options of `poll` and `receive`.
 * @param {unknown} options @param {string} what @param {string} countName @param {number} fallback
 * @returns {{ count: number, timeoutMs: number }}
 */
export function waitOptions(options, what, countName, fallback) {
  if (options == null) return { count: fallback, timeoutMs: 0 };
  const o = checkOptions(options, `${what} options`);
  checkKeys(o, new Set([countName, 'timeoutMs']), what);
  return { count: checkCount(o[countName], countName, fallback, 0), timeoutMs: checkTimeout(o.timeoutMs, 'timeoutMs') };
}

/**
 * The options of `what` named in `numbers` and `booleans`, checked, absent
 * ones left out (the core's defaults apply).
 * @param {Record<string, any>} o @param {readonly string[]} numbers @param {readonly string[]} booleans
 */
export function pickOptions(o, numbers, booleans) {
  /** @type {Record<string, number | boolean>} */
  const out = {};
  for (const k of numbers) {
    const v = checkOptNumber(o[k], k);
    if (v !== undefined) out[k] = v;
  }
  for (const k of booleans) {
    const v = checkOptBoolean(o[k], k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A `retryBackoffMs`: `[initialMs, maxMs]` (the core checks the values).
 * @param {unknown} v @returns {[number, number]}
 */
export function checkBackoff(v) {
  if (!Array.isArray(v) || v.length !== 2) {
    throw new TypeError(`retryBackoffMs must be [initialMs, maxMs], got ${typeName(v)}`);
  }
  return [checkNumber(v[0], 'retryBackoffMs[0]'), checkNumber(v[1], 'retryBackoffMs[1]')];
}
