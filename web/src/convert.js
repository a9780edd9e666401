// Argument checks (wrong JS types throw TypeError here, before the wasm
// call; value ranges are checked in Rust and throw InvalidArgument) and the
// packing of records across the wasm boundary.

import { errorOf } from './errors.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
export const EMPTY = Object.freeze({});
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @param {unknown} v */
export function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'null prototype'})`;
  return typeof v;
}

/** @param {unknown} v @param {string} what @returns {string} */
export function checkString(v, what) {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeName(v)}`);
  return v;
}

/** Uint8Array (any view of bytes) or string. @param {unknown} v @param {string} what */
export function checkData(v, what) {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`${what} must be a Uint8Array or string, got ${typeName(v)}`);
}

/** @param {unknown} v @param {string} what */
export function checkOptData(v, what) {
  return v == null ? null : checkData(v, what);
}

/** A number (or a bigint in the safe range). @param {unknown} v @param {string} what @returns {number} */
export function checkNumber(v, what) {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (v > MAX_SAFE_BIG || v < -MAX_SAFE_BIG) {
      throw errorOf('INVALID_ARGUMENT', `${what} ${v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1)`);
    }
    return Number(v);
  }
  throw new TypeError(`${what} must be a number, got ${typeName(v)}`);
}

/** @param {unknown} v @param {string} what @returns {number | undefined} */
export function checkOptNumber(v, what) {
  return v == null ? undefined : checkNumber(v, what);
}

/** A duration that may be `Infinity` (wait forever). @param {unknown} v @param {string} what @param {number} dflt */
export function checkWait(v, what, dflt) {
  if (v == null) return dflt;
  const n = checkNumber(v, what);
  if (Number.isNaN(n) || n < 0) throw errorOf('INVALID_ARGUMENT', `${what} must be >= 0, got ${n}`);
  return n;
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

/** Refuses unknown option names (a typo would otherwise pass silently). */
export function checkKeys(/** @type {Record<string, any>} */ o, /** @type {ReadonlySet<string>} */ known, /** @type {string} */ what) {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new TypeError(`${what}: unknown option '${k}' (known: ${[...known].join(', ')})`);
  }
}

/** @param {unknown} v @param {string} what @returns {boolean | undefined} */
export function checkOptBoolean(v, what) {
  if (v == null) return undefined;
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeName(v)}`);
  return v;
}

/** A partition or timestamp for packing: NaN when absent. @param {unknown} v @param {string} what */
export function packNumber(v, what) {
  if (v == null) return NaN;
  const n = v instanceof Date ? v.getTime() : checkNumber(v, what);
  if (!Number.isFinite(n)) throw errorOf('INVALID_ARGUMENT', `${what} must be a finite integer, got ${n}`);
  return n;
}

const INITIAL_SLOTS = 4096;
const INITIAL_BYTES = 64 * 1024;
/** Scratch kept between calls at most this big (larger batches allocate). */
const KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Packs records for one wasm `sendPacked` call: per record, `meta` holds
 * `valueLength, keyLength, headerCount, partition, timestampMs` (length
 * -1: null; NaN: absent), then per header `nameLength, valueLength`;
 * `data` holds the value, the key, then each header's name and value.
 */
export class Packer {
  constructor() {
    this.meta = new Float64Array(INITIAL_SLOTS);
    this.data = new Uint8Array(INITIAL_BYTES);
    this.m = 0;
    this.pos = 0;
  }

  reset() {
    this.m = 0;
    this.pos = 0;
  }

  shrink() {
    if (this.data.length > KEEP_BYTES) this.data = new Uint8Array(INITIAL_BYTES);
    if (this.meta.length > KEEP_BYTES / 8) this.meta = new Float64Array(INITIAL_SLOTS);
  }

  /** @param {number} n */
  slot(n) {
    if (this.m + n > this.meta.length) {
      const meta = new Float64Array(Math.max(this.meta.length * 2, this.m + n));
      meta.set(this.meta.subarray(0, this.m));
      this.meta = meta;
    }
    const at = this.m;
    this.m += n;
    return at;
  }

  /** @param {number} n */
  room(n) {
    if (this.pos + n > this.data.length) {
      const data = new Uint8Array(Math.max(this.data.length * 2, this.pos + n));
      data.set(this.data.subarray(0, this.pos));
      this.data = data;
    }
  }

  /** Appends checked bytes; returns their length. @param {string | Uint8Array} v */
  bytes(v) {
    if (typeof v === 'string') {
      // utf-8 takes at most 3 bytes per UTF-16 unit.
      this.room(v.length * 3);
      const { written } = encoder.encodeInto(v, this.data.subarray(this.pos));
      this.pos += written;
      return written;
    }
    const n = v.byteLength;
    this.room(n);
    this.data.set(v, this.pos);
    this.pos += n;
    return n;
  }

  /**
   * @param {string | Uint8Array | null} value @param {string | Uint8Array | null} key
   * @param {unknown} headers @param {number} partition @param {number} timestampMs @param {string} what
   */
  record(value, key, headers, partition, timestampMs, what) {
    const at = this.slot(5);
    const valueLength = value === null ? -1 : this.bytes(value);
    const keyLength = key === null ? -1 : this.bytes(key);
    const headerCount = headers == null ? 0 : this.#headers(headers, what);
    const meta = this.meta; // after any growth
    meta[at] = valueLength;
    meta[at + 1] = keyLength;
    meta[at + 2] = headerCount;
    meta[at + 3] = partition;
    meta[at + 4] = timestampMs;
  }

  /** Headers as `[[name, value], ...]`, a plain object or a Map; returns their count. */
  #headers(/** @type {any} */ h, /** @type {string} */ what) {
    let count = 0;
    const add = (/** @type {unknown} */ name, /** @type {unknown} */ value) => {
      checkString(name, `${what}: a header name`);
      const v = checkData(value, `${what}: header ${String(name)}`);
      const at = this.slot(2);
      const nameLength = this.bytes(/** @type {string} */ (name));
      const valueLength = this.bytes(v);
      this.meta[at] = nameLength;
      this.meta[at + 1] = valueLength;
      count++;
    };
    if (Array.isArray(h)) {
      for (const pair of h) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`${what} must be [name, value] pairs, got ${typeName(pair)} in the list`);
        }
        add(pair[0], pair[1]);
      }
    } else if (h instanceof Map) {
      for (const [name, value] of h) add(name, value);
    } else if (typeof h === 'object' && h !== null && !ArrayBuffer.isView(h)) {
      for (const name of Object.keys(h)) add(name, h[name]);
    } else {
      throw new TypeError(`${what} must be [name, value] pairs, got ${typeName(h)}`);
    }
    return count;
  }
}

/**
 * Turns records packed by the wasm side into objects: `[meta, data,
 * topics, ...]` where `meta` holds per record `topicIndex, partition,
 * offset, timestampMs, keyLength, valueLength, headerCount` then per header
 * `nameLength, valueLength`. Keys and values are views of `data`.
 * @param {any[]} packed
 * @param {(record: any, i: number) => any} [wrap] turns each record into what is returned
 */
export function unpackRecords(packed, wrap) {
  const meta = /** @type {Float64Array} */ (packed[0]);
  const data = /** @type {Uint8Array} */ (packed[1]);
  const topics = /** @type {string[]} */ (packed[2]);
  const out = [];
  const n = meta.length;
  let m = 0;
  let d = 0;
  let i = 0;
  while (m < n) {
    const topic = topics[meta[m]];
    const partition = meta[m + 1];
    const offset = meta[m + 2];
    const timestampMs = meta[m + 3];
    const keyLength = meta[m + 4];
    const valueLength = meta[m + 5];
    const headerCount = meta[m + 6];
    m += 7;
    let key = null;
    if (keyLength >= 0) {
      key = data.subarray(d, d + keyLength);
      d += keyLength;
    }
    let value = null;
    if (valueLength >= 0) {
      value = data.subarray(d, d + valueLength);
      d += valueLength;
    }
    /** @type {[string, Uint8Array][]} */
    const headers = [];
    for (let h = 0; h < headerCount; h++) {
      const nameLength = meta[m];
      const headerLength = meta[m + 1];
      m += 2;
      const name = decoder.decode(data.subarray(d, d + nameLength));
      d += nameLength;
      headers.push([name, data.subarray(d, d + headerLength)]);
      d += headerLength;
    }
    const record = { topic, partition, offset, timestampMs, key, value, headers };
    out.push(wrap === undefined ? record : wrap(record, i));
    i++;
  }
  return out;
}
