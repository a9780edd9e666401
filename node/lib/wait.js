'use strict';
// Waiting for records off the event loop. The native waits (the core's
// `poll_wait` / `receive_wait`) run as napi AsyncTasks on the libuv thread
// pool; a wait longer than one slice runs as several tasks in turn, so a
// waiting consumer holds a pool thread a slice at a time (other pool work,
// such as fs calls, and other waits get their turn in between) and a
// close is noticed within a slice even when nothing wakes the wait.

const { errorOf } = require('./errors');
const { typeName, checkNumber, checkOptions, checkKeys } = require('./convert');
const native = require('./native');

/** The longest one native wait lasts (ms): the core's policy for every binding. */
const SLICE_MS = native.WAIT_SLICE_MS;

/**
 * A timeout option: milliseconds >= 0, or Infinity (no limit).
 * @param {unknown} v @param {string} what @returns {number}
 */
function checkTimeout(v, what) {
  if (v == null) return 0;
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
function checkCount(v, what, fallback, min) {
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
function waitOptions(options, what, countName, fallback) {
  if (options == null) return { count: fallback, timeoutMs: 0 };
  const o = checkOptions(options, `${what} options`);
  checkKeys(o, new Set([countName, 'timeoutMs']), what);
  return { count: checkCount(o[countName], countName, fallback, 0), timeoutMs: checkTimeout(o.timeoutMs, 'timeoutMs') };
}

/**
 * The error a failed native wait resolved with (`{ code, message }`).
 * @param {{ code: string, message: string }} f
 */
function failure(f) {
  return errorOf(f.code, f.message);
}

/**
 * Runs `start(sliceMs)` (a native wait; resolves `[bytes, numbers]` or a
 * failure) until it returns records, `timeoutMs` passes, or `stopped()`
 * says to give up between slices. A zero timeout is one attempt that does
 * not wait. Resolves `[bytes, numbers]` (numbers empty: nothing came).
 * @param {(sliceMs: number) => Promise<[Buffer, Float64Array] | { code: string, message: string }>} start
 * @param {number} timeoutMs
 * @param {() => boolean} stopped
 * @returns {Promise<[Buffer, Float64Array]>}
 */
async function waitSliced(start, timeoutMs, stopped) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    const slice = left > 0 ? Math.min(SLICE_MS, Math.ceil(left)) : 0;
    const r = await start(slice);
    if (!Array.isArray(r)) throw failure(r);
    if (r[1].length > 0 || slice === 0 || performance.now() >= deadline || stopped()) return r;
  }
}

/** Why a value is not a function, for messages. @param {unknown} v */
function notFunction(v, what) {
  return new TypeError(`${what} must be a function, got ${typeName(v)}`);
}

module.exports = { SLICE_MS, checkTimeout, checkCount, waitOptions, waitSliced, failure, notFunction };
