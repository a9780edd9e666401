// Records across the native boundary, in the one packed layout of the
// bindings' shared crate (`logpond_js`): the Packer builds a send's
// numbers and bytes; `unpack` turns a read's, poll's or receive's into
// record objects. Keys and values are views (the backend's `Bytes`: a
// Buffer in Node, a Uint8Array in browsers) of the bytes a call returned.

import { Bytes, utf8Write } from '../backend.js';
import { checkData, checkNumber, typeName } from './check.js';
import { errorOf } from './internal.js';

const INITIAL_BYTES = 64 * 1024;
const INITIAL_SLOTS = 8 * 1024;
/** Scratch kept between calls at most this big (larger batches allocate). */
const KEEP_BYTES = 4 * 1024 * 1024;
/** Numbers before the records' in the packed metadata: slots, topic length, count. */
/** `slots, topicLength, count, delayMs, ttlMs` (see `logpond_js::SEND_HEADER`). */
const HEADER_SLOTS = 5;
/** Topic names as utf-8, by name (bounded). */
const topicBytes = new Map();
const encoder = new TextEncoder();

/**
 * Packs records for one native send into one ArrayBuffer, so that the
 * native side converts one argument however many records there are (a
 * native call per record costs more than the copy). The buffer holds
 * `slots` f64 numbers, then the topic name (utf-8), then the record bytes.
 * The numbers start with `slots, topicLength, count`; then, per record,
 * `valueLength, keyLength, headerCount, partition, timestampMs` (length -1:
 * null; NaN: absent) and per header `nameLength, valueLength`. The bytes
 * are, per record, the value, the key, then each header's name and value.
 * The native send hands back `partition, offset, timestampMs` per record
 * (Node writes them over the numbers).
 */
export class Packer {
  constructor() {
    this.#allocate(INITIAL_SLOTS, INITIAL_BYTES);
    /** Numbers used. */
    this.m = HEADER_SLOTS;
    /** Bytes used. */
    this.pos = 0;
    this.topicLength = 0;
    /** @type {string | null} the topic whose name leads the bytes */
    this.topic = null;
    /** A send's `delayMs` and `ttlMs` (NaN: none), for every record it packs. */
    this.delayMs = NaN;
    this.ttlMs = NaN;
  }

  /** @param {number} slots @param {number} bytes */
  #allocate(slots, bytes) {
    const ab = new ArrayBuffer(slots * 8 + bytes);
    /** The whole scratch, as Node's native send takes it. */
    this.whole = new Bytes(ab, 0, ab.byteLength);
    this.slots = slots;
    this.meta = new Float64Array(ab, 0, slots);
    this.data = new Bytes(ab, slots * 8, bytes);
  }

  /** @param {number} slots @param {number} bytes */
  #grow(slots, bytes) {
    const { meta, data, m, pos } = this;
    this.#allocate(slots, bytes);
    this.meta.set(meta.subarray(0, m));
    this.data.set(data.subarray(0, pos));
  }

  /** Starts packing records for `topic` (a checked string). @param {string} topic */
  reset(topic) {
    this.m = HEADER_SLOTS;
    this.delayMs = NaN;
    this.ttlMs = NaN;
    // The topic name leads the bytes; the last one packed is still there.
    if (topic !== this.topic) {
      let name = topicBytes.get(topic);
      if (name === undefined) {
        if (topicBytes.size >= 1024) topicBytes.clear();
        name = encoder.encode(topic);
        topicBytes.set(topic, name);
      }
      this.pos = 0;
      this.topicLength = this.bytes(name);
      this.topic = topic;
    }
    this.pos = this.topicLength;
  }

  /** Fills in the header the native call reads first. @param {number} count */
  seal(count) {
    const meta = this.meta;
    meta[0] = this.slots;
    meta[1] = this.topicLength;
    meta[2] = count;
    meta[3] = this.delayMs;
    meta[4] = this.ttlMs;
  }

  /** Drops scratch a big batch grew, once the call is done. */
  shrink() {
    if (this.whole.length > KEEP_BYTES) {
      this.#allocate(INITIAL_SLOTS, INITIAL_BYTES);
      this.topic = null;
    }
  }

  /** Reserves `n` meta slots and returns the index of the first. @param {number} n */
  slot(n) {
    if (this.m + n > this.slots) this.#grow(Math.max(this.slots * 2, this.m + n), this.data.length);
    const at = this.m;
    this.m += n;
    return at;
  }

  /** @param {number} n */
  #room(n) {
    if (this.pos + n > this.data.length) this.#grow(this.slots, Math.max(this.data.length * 2, this.pos + n));
  }

  /** Appends checked bytes (Uint8Array or string); returns their length. @param {string | Uint8Array} v */
  bytes(v) {
    if (typeof v === 'string') {
      // utf-8 takes at most 3 bytes per UTF-16 unit.
      this.#room(v.length * 3);
      const n = utf8Write(this.data, v, this.pos);
      this.pos += n;
      return n;
    }
    const n = v.byteLength;
    this.#room(n);
    this.data.set(v, this.pos);
    this.pos += n;
    return n;
  }

  /**
   * Packs one record. Values are checked by the caller; headers are
   * checked here.
   * @param {string | Uint8Array | null} value @param {string | Uint8Array | null | undefined} key
   * @param {unknown} headers @param {number} partition NaN when absent @param {number} timestampMs NaN when absent
   * @param {number} index the record's place in a batch, for error messages (-1: a single send)
   */
  record(value, key, headers, partition, timestampMs, index) {
    const at = this.slot(5);
    const valueLength = value === null ? -1 : this.bytes(value);
    const keyLength = key == null ? -1 : this.bytes(key);
    const headerCount = headers == null ? 0 : this.#headers(headers, index);
    // Read `this.meta` only now: packing bytes may have grown (replaced) it.
    const meta = this.meta;
    meta[at] = valueLength;
    meta[at + 1] = keyLength;
    meta[at + 2] = headerCount;
    meta[at + 3] = partition;
    meta[at + 4] = timestampMs;
  }

  /** Packs headers given as `[[name, value], ...]`, a plain object or a Map; returns their count. */
  #headers(/** @type {any} */ h, /** @type {number} */ index) {
    let count = 0;
    const add = (/** @type {unknown} */ name, /** @type {unknown} */ value) => {
      if (typeof name !== 'string') {
        throw new TypeError(`${where(index)}header names must be strings, got ${typeName(name)}`);
      }
      const v = typeof value === 'string' || value instanceof Uint8Array ? value : checkData(value, `${where(index)}header ${name}`);
      const at = this.slot(2);
      const nameLength = this.bytes(name);
      const valueLength = this.bytes(v);
      const meta = this.meta; // after any growth
      meta[at] = nameLength;
      meta[at + 1] = valueLength;
      count++;
    };
    if (Array.isArray(h)) {
      for (const pair of h) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`${where(index)}headers must be [name, value] pairs, got ${typeName(pair)} in the list`);
        }
        add(pair[0], pair[1]);
      }
    } else if (h instanceof Map) {
      for (const [name, value] of h) add(name, value);
    } else if (typeof h === 'object' && h !== null && !ArrayBuffer.isView(h)) {
      for (const name of Object.keys(h)) add(name, h[name]);
    } else {
      throw new TypeError(`${where(index)}headers must be [name, value] pairs, got ${typeName(h)}`);
    }
    return count;
  }
}

/** Where an error is, for messages: `record 3 ` in a batch, nothing for a single send. @param {number} index */
export function where(index) {
  return index < 0 ? '' : `record ${index} `;
}

/**
 * A partition or timestamp for packing: NaN when absent; a non-finite
 * number is refused here (NaN means absent), the rest natively.
 * @param {unknown} v @param {string} name @param {number} index as for `Packer.record`
 */
export function packNumber(v, name, index) {
  if (v == null) return NaN;
  let n;
  if (typeof v === 'number') n = v;
  else if (v instanceof Date) n = v.getTime();
  else n = checkNumber(v, `${where(index)}${name}`);
  if (!Number.isFinite(n)) throw errorOf('INVALID_ARGUMENT', `${where(index)}${name} must be a finite integer, got ${n}`);
  return n;
}

/**
 * `{ topic, partition, offset, timestampMs }` of `n` sent records, from the
 * numbers the native send gave back (three per record).
 * @param {string} topic @param {ArrayLike<number>} meta @param {number} n
 */
export function metadata(topic, meta, n) {
  const out = new Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = { topic, partition: meta[j], offset: meta[j + 1], timestampMs: meta[j + 2] };
  }
  return out;
}

/** utf-8 decoding, captured at load so later patches of globals cannot run in the middle of decoding. */
const decodeUtf8 = TextDecoder.prototype.decode.bind(new TextDecoder());

/**
 * Packed records as a backend returns them: `[bytes, numbers]`, or
 * `[bytes, numbers, start, end]` when only part of `numbers` is theirs.
 * @typedef {[Uint8Array, Float64Array] | [Uint8Array, Float64Array, number, number]} Packed
 */

/**
 * Turns packed records into record objects. Each record's numbers follow
 * `prefix` numbers of the caller's: none for a read (`topics` is the
 * topic's name); for a poll (prefix 1) the index of the record's topic in
 * `topics`; for a receive (prefix 2) the delivery count and lease id, which
 * go into `extras` (two per record). Then `partition, offset, timestampMs,
 * keyLength, valueLength, headerCount` (a length of -1 is null), and per
 * header the name's and value's lengths; the bytes are the key, the value,
 * then each header's name and value.
 * @param {Packed} packed @param {0 | 1 | 2} prefix
 * @param {readonly string[] | string} topics @param {number[] | null} extras
 */
export function unpack(packed, prefix, topics, extras) {
  const data = packed[0];
  const meta = packed[1];
  const ab = data.buffer;
  let d = data.byteOffset;
  let m = packed.length > 2 ? /** @type {number} */ (packed[2]) : 0;
  const n = packed.length > 2 ? /** @type {number} */ (packed[3]) : meta.length;
  const records = [];
  let topic = typeof topics === 'string' ? topics : '';
  while (m < n) {
    if (prefix === 1) {
      topic = /** @type {readonly string[]} */ (topics)[meta[m]] ?? '';
    } else if (prefix === 2 && extras !== null) {
      extras.push(meta[m], meta[m + 1]);
    }
    m += prefix;
    const partition = meta[m];
    const offset = meta[m + 1];
    const timestampMs = meta[m + 2];
    const keyLength = meta[m + 3];
    const valueLength = meta[m + 4];
    const headerCount = meta[m + 5];
    m += 6;
    let key = null;
    if (keyLength >= 0) {
      key = new Bytes(ab, d, keyLength);
      d += keyLength;
    }
    let value = null;
    if (valueLength >= 0) {
      value = new Bytes(ab, d, valueLength);
      d += valueLength;
    }
    /** @type {[string, Uint8Array][]} */
    const headers = [];
    for (let h = 0; h < headerCount; h++) {
      const nameLength = meta[m];
      const headerLength = meta[m + 1];
      m += 2;
      const name = decodeUtf8(new Uint8Array(ab, d, nameLength));
      d += nameLength;
      headers.push([name, new Bytes(ab, d, headerLength)]);
      d += headerLength;
    }
    records.push({ topic, partition, offset, timestampMs, key, value, headers });
  }
  return records;
}
