// What the shared JS layer (lib/shared/, copied from the repository's js/)
// needs from Node: the napi addon, record bytes as Buffers, and waiting off
// the event loop. The core's blocking waits (`poll_wait`, `receive_wait`,
// `send_many_wait`) run as napi AsyncTasks on the libuv thread pool; a wait
// longer than one slice runs as several tasks in turn, so a waiting
// consumer holds a pool thread a slice at a time (other pool work, such as
// fs calls, and other waits get their turn in between) and a close is
// noticed within a slice even when nothing wakes the wait.

import native from './native.js';

/** The longest one native wait lasts (ms): the core's policy for every binding. */
const SLICE_MS = native.WAIT_SLICE_MS;

/**
 * A Buffer over part of an ArrayBuffer, made the way Node makes its own
 * (`FastBuffer`: a Uint8Array subclass whose prototype is Buffer.prototype),
 * without `subarray`'s species lookup: about three times cheaper per record.
 * `Buffer.isBuffer`, `instanceof Buffer` and every Buffer method hold.
 */
export class Bytes extends Uint8Array {}
Object.setPrototypeOf(Bytes.prototype, Buffer.prototype);
Object.defineProperty(Bytes.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

/** What values and keys may be, for messages. */
export const BYTES = 'Buffer, Uint8Array';

/** Node takes no other bytes than Uint8Arrays (Buffers included). @param {unknown} _v */
export function asBytes(_v) {
  return undefined;
}

/** Writes `s` as utf-8 into `buf` (a `Bytes`, so a Buffer) at `at`; returns the length. */
export function utf8Write(/** @type {any} */ buf, /** @type {string} */ s, /** @type {number} */ at) {
  return buf.write(s, at);
}

export const NativeClock = native.NativeManualClock;
export const errorKinds = native.errorKinds;
export const topicOptions = native.topicOptions;

/** Lets the event loop turn. */
export function turn() {
  return new Promise(setImmediate);
}

/** Reports a failure nobody awaits (a subscription's, without onError): a process warning. @param {unknown} error */
export function report(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(e.message, { type: 'LogpondSubscriptionWarning', code: /** @type {any} */ (e).code });
}

/** The error a failed native wait resolved with (`{ code, message }`). */
function failure(/** @type {{ code: string, message: string }} */ f) {
  const e = new Error(f.message);
  /** @type {any} */ (e).code = f.code;
  return e;
}

/**
 * Runs `start(sliceMs)` (a native wait; resolves `[bytes, numbers]` or a
 * failure) until it returns records, `timeoutMs` passes, or `stopped()`
 * says to give up between slices. A zero timeout is one attempt that does
 * not wait. `retry(failure)` says whether a failure is waited out.
 * @param {(sliceMs: number) => Promise<[Buffer, Float64Array] | { code: string, message: string }>} start
 * @param {number} timeoutMs @param {() => boolean} stopped
 * @param {(f: { code: string }) => boolean} [retry]
 * @returns {Promise<[Buffer, Float64Array]>}
 */
async function waitSliced(start, timeoutMs, stopped, retry) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    const slice = left > 0 ? Math.min(SLICE_MS, Math.ceil(left)) : 0;
    const r = await start(slice);
    const done = slice === 0 || performance.now() >= deadline || stopped();
    if (!Array.isArray(r)) {
      if (done || retry === undefined || !retry(r)) throw failure(r);
    } else if (r[1].length > 0 || done) {
      return r;
    }
  }
}

/** Scratch for the numbers of `read` (reused: they are decoded at once). */
let readScratch = new Float64Array(1 + 6 * 500);
let readScratchBytes = Buffer.from(readScratch.buffer);
const KEEP_READ_SLOTS = 1 + 6 * 4096;

/** The scratch of an iteration step: f64 slots (3 + a topic index and 6 + 2 per header) and bytes. */
const ITER_SLOTS = 3 + 7 + 2 * 16;
const ITER_BYTES = 4096;

/**
 * The native functions named `prefix + Name` for each name, as methods
 * `name` over the handle `h` (the napi surface is free functions over
 * handles: `native.consumerSeek(c, ...)` becomes `seek(...)`).
 * @param {any} h @param {string} prefix @param {string[]} names
 * @returns {Record<string, (...args: any[]) => any>}
 */
function bound(h, prefix, names) {
  const fn = (/** @type {string} */ n) => native[prefix === '' ? n : prefix + n[0].toUpperCase() + n.slice(1)];
  return Object.fromEntries(names.map((n) => [n, fn(n).bind(null, h)]));
}

/**
 * The backend of one pond over its napi handle (see the shared pond.js).
 * @param {any} h
 */
export function pondBackend(h) {
  return {
    ...bound(h, '', ['isClosed', 'createTopic', 'topics', 'hasTopic', 'describe', 'deleteTopic', 'offsets', 'groups', 'describeGroup']),
    ...bound(h, '', ['offsetForTime', 'deleteRecords', 'maintain', 'subscriptions', 'deleteSubscription']),
    ...bound(h, '', ['describeSubscription', 'updateSubscription']),
    changed() {},
    /** The whole scratch goes: the native side reads only what its numbers describe. */
    send(/** @type {any} */ packer) {
      native.sendPacked(h, packer.whole);
      return packer.meta;
    },
    sendWait(/** @type {any} */ packer, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) {
      const buf = Buffer.from(packer.whole);
      const backpressure = (/** @type {{ code: string }} */ f) => f.code === 'BACKPRESSURE';
      return waitSliced((ms) => native.sendPackedWait(h, buf, ms), timeoutMs, stopped, backpressure).then((r) => r[1]);
    },
    /** The numbers land in the reused scratch, after their count, when they fit. */
    read(/** @type {string} */ topic, /** @type {number} */ p, /** @type {number | undefined} */ offset, /** @type {number} */ maxRecords, /** @type {number} */ maxBytes) {
      const want = 1 + 6 * Math.min(typeof maxRecords === 'number' ? maxRecords : 0, 65536);
      if (readScratch.length < want) {
        readScratch = new Float64Array(want);
        readScratchBytes = Buffer.from(readScratch.buffer);
      }
      const scratch = readScratch;
      const r = native.read(h, topic, p, offset, maxRecords, maxBytes, readScratchBytes);
      if (readScratch.length > KEEP_READ_SLOTS) {
        readScratch = new Float64Array(1 + 6 * 500);
        readScratchBytes = Buffer.from(readScratch.buffer);
      }
      return Array.isArray(r) ? r : [r, scratch, 1, 1 + scratch[0]];
    },
    consumer: (/** @type {any} */ options) => consumerBackend(native.consumerCreate(h, options)),
    queue: (/** @type {string} */ topic, /** @type {any} */ options) => queueBackend(native.queueCreate(h, topic, options)),
  };
}

/** The backend of one consumer over its napi handle. @param {any} c */
function consumerBackend(c) {
  // A record taken at once lands here (see `consumerNextRecord`): the
  // slots' count, the record's numbers' count and bytes' length, its
  // numbers, then (after the slots) its bytes.
  const scratchBytes = Buffer.alloc(ITER_SLOTS * 8 + ITER_BYTES);
  const scratch = new Float64Array(scratchBytes.buffer, scratchBytes.byteOffset, ITER_SLOTS);
  scratch[0] = ITER_SLOTS;
  return {
    poll: (/** @type {number} */ max, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) =>
      waitSliced((ms) => native.consumerPoll(c, max, ms), timeoutMs, stopped),
    next() {
      const r = native.consumerNextRecord(c, scratchBytes);
      if (r !== true) return r;
      const length = scratch[2];
      // A copy (small: from Node's buffer pool), as records outlive the scratch.
      const data = Buffer.allocUnsafe(length);
      scratchBytes.copy(data, 0, ITER_SLOTS * 8, ITER_SLOTS * 8 + length);
      return [data, scratch, 3, 3 + scratch[1]];
    },
    nextWait: (/** @type {() => boolean} */ stopped) =>
      waitSliced((ms) => native.consumerNextRecordWait(c, ms), Infinity, stopped),
    ...bound(c, 'consumer', ['commit', 'commitOffsets', 'committed', 'position', 'seek', 'seekToBeginning']),
    ...bound(c, 'consumer', ['seekToEnd', 'seekToTime', 'member', 'close']),
    assignment: () => native.consumerAssignment(c).map((/** @type {any} */ a) => ({ topic: a.topic, partition: a.partition })),
    lag: () => native.consumerLag(c).map((/** @type {any} */ l) => ({ topic: l.topic, partition: l.partition, lag: l.lag })),
    skipDamaged: () =>
      native.consumerSkipDamaged(c).map((/** @type {any} */ r) => ({ topic: r.topic, partition: r.partition, fromOffset: r.fromOffset, toOffset: r.toOffset })),
  };
}

/** The backend of one queue consumer over its napi handle. @param {any} q */
function queueBackend(q) {
  return {
    receive: (/** @type {number} */ max, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) =>
      waitSliced((ms) => native.queueReceive(q, max, ms), timeoutMs, stopped),
    ...bound(q, 'queue', ['ack', 'nack', 'extend', 'nackFailed', 'backlog', 'inFlight', 'close']),
    skipDamaged: () =>
      native.queueSkipDamaged(q).map((/** @type {any} */ r) => ({ partition: r.partition, fromOffset: r.fromOffset, toOffset: r.toOffset })),
    parked: () =>
      native.queueParked(q).map((/** @type {any} */ p) => ({ partition: p.partition, offset: p.offset, deliveryCount: p.deliveryCount, reason: p.reason })),
    wake() {}, // a waiting receive notices a stop between slices
  };
}
