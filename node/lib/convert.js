'use strict';
// Argument checks (wrong JS types throw TypeError here, before the native
// call; value ranges are checked natively and throw InvalidArgument) and
// the decoding of packed records.

const { errorOf } = require('./errors');

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Shared by every call that takes no options. */
const EMPTY = Object.freeze({});

/** @param {unknown} v */
function typeName(v) {
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
function checkString(v, what) {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeName(v)}`);
  return v;
}

/** Buffer, Uint8Array or string. @param {unknown} v @param {string} what */
function checkData(v, what) {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new TypeError(`${what} must be a Buffer, Uint8Array or string, got ${typeName(v)}`);
}

/**
 * A number (or a bigint within the safe range). Integer-ness and range are
 * checked natively, so that a native caller gets the same checks.
 * @param {unknown} v @param {string} what @returns {number}
 */
function checkNumber(v, what) {
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
function checkOptNumber(v, what) {
  return v == null ? undefined : checkNumber(v, what);
}

/** Epoch milliseconds: a number, bigint or Date. @param {unknown} v @param {string} what */
function checkTime(v, what) {
  if (v instanceof Date) return v.getTime();
  return checkNumber(v, what);
}

/** @param {unknown} v @param {string} what @returns {Record<string, any>} */
function checkOptions(v, what) {
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
function checkKeys(o, known, what) {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) {
      throw new TypeError(`${what}: unknown option '${k}' (known: ${[...known].join(', ')})`);
    }
  }
}

/** @param {unknown} v @param {string} what @returns {boolean | undefined} */
function checkOptBoolean(v, what) {
  if (v == null) return undefined;
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeName(v)}`);
  return v;
}

const INITIAL_BYTES = 64 * 1024;
const INITIAL_SLOTS = 8 * 1024;
/** Scratch kept between calls at most this big (larger batches allocate). */
const KEEP_BYTES = 4 * 1024 * 1024;
/** Numbers before the records' in the packed metadata: slots, topic length, count. */
const HEADER_SLOTS = 3;
/** Topic names as utf-8, by name (bounded). */
const topicBytes = new Map();

/**
 * Packs records for one native `sendPacked` call into one ArrayBuffer, so
 * that the native side converts one argument however many records there
 * are (a napi call per record costs more than the copy). The buffer holds
 * `slots` f64 metadata numbers, then the topic name (utf-8), then the
 * record bytes. The metadata starts with `slots, topicLength, count`;
 * then, per record, `valueLength, keyLength, headerCount, partition,
 * timestampMs` (length -1: null; NaN: absent) and per header `nameLength,
 * valueLength`. The bytes are, per record, the value, the key, then each
 * header's name and value. The native call writes `partition, offset,
 * timestampMs` per record over the metadata.
 *
 * One packer is reused by every call (calls are synchronous).
 */
class Packer {
  constructor() {
    this.#allocate(INITIAL_SLOTS, INITIAL_BYTES);
    this.m = HEADER_SLOTS;
    this.pos = 0;
    this.topicLength = 0;
    /** @type {string | null} the topic whose name leads the bytes */
    this.topic = null;
  }

  /** @param {number} slots @param {number} bytes */
  #allocate(slots, bytes) {
    const ab = new ArrayBuffer(slots * 8 + bytes);
    /** The whole scratch, as the native call takes it. */
    this.whole = Buffer.from(ab);
    this.slots = slots;
    this.meta = new Float64Array(ab, 0, slots);
    this.data = Buffer.from(ab, slots * 8, bytes);
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
    // The topic name leads the bytes; the last one packed is still there.
    if (topic !== this.topic) {
      let name = topicBytes.get(topic);
      if (name === undefined) {
        if (topicBytes.size >= 1024) topicBytes.clear();
        name = Buffer.from(topic, 'utf8');
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
      const n = this.data.write(v, this.pos);
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
  #headers(h, index) {
    let count = 0;
    const add = (name, value) => {
      if (typeof name !== 'string') {
        throw new TypeError(`${where(index)}header names must be strings, got ${typeName(name)}`);
      }
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
        throw new TypeError(`${where(index)}header ${name} must be a Buffer, Uint8Array or string, got ${typeName(value)}`);
      }
      const at = this.slot(2);
      const nameLength = this.bytes(name);
      const valueLength = this.bytes(value);
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
      for (const name of Object.keys(h)) add(name, /** @type {any} */ (h)[name]);
    } else {
      throw new TypeError(`${where(index)}headers must be [name, value] pairs, got ${typeName(h)}`);
    }
    return count;
  }
}

/** Where an error is, for messages: `record 3 ` in a batch, nothing for a single send. @param {number} index */
function where(index) {
  return index < 0 ? '' : `record ${index} `;
}

/**
 * A partition or timestamp for packing: NaN when absent; a non-finite
 * number is refused here (NaN means absent), the rest natively.
 * @param {unknown} v @param {string} name @param {number} index as for `Packer.record`
 */
function packNumber(v, name, index) {
  if (v == null) return NaN;
  let n;
  if (typeof v === 'number') n = v;
  else if (v instanceof Date) n = v.getTime();
  else n = checkNumber(v, `${where(index)}${name}`);
  if (!Number.isFinite(n)) throw errorOf('INVALID_ARGUMENT', `${where(index)}${name} must be a finite integer, got ${n}`);
  return n;
}

/**
 * A Buffer over part of an ArrayBuffer, made the way Node makes its own
 * (`FastBuffer`: a Uint8Array subclass whose prototype is Buffer.prototype),
 * without `subarray`'s species lookup: about three times cheaper per record.
 * `Buffer.isBuffer`, `instanceof Buffer` and every Buffer method hold.
 */
class RecordBuffer extends Uint8Array {}
Object.setPrototypeOf(RecordBuffer.prototype, Buffer.prototype);
Object.defineProperty(RecordBuffer.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

/** utf-8 decoding, captured at load so later patches of globals cannot run in the middle of decoding. */
const decodeUtf8 = TextDecoder.prototype.decode.bind(new TextDecoder());

/** Scratch for the numbers of `read` (reused: they are decoded at once). */
let readScratch = new Float64Array(1 + 6 * 500);
let readScratchBytes = Buffer.from(readScratch.buffer);
const KEEP_READ_SLOTS = 1 + 6 * 4096;

/** The read scratch, as big as `maxRecords` records without headers need (bounded). @param {number} maxRecords */
function readNumbers(maxRecords) {
  const want = 1 + 6 * Math.min(maxRecords, 65536);
  if (readScratch.length < want) {
    readScratch = new Float64Array(want);
    readScratchBytes = Buffer.from(readScratch.buffer);
  }
  return readScratchBytes;
}

/**
 * Turns what the native `read` returned into record objects: either the
 * bytes alone (the numbers are in the read scratch, after their count) or
 * `[bytes, numbers]`. Per record, the numbers are partition, offset,
 * timestampMs, key length, value length, header count (a length of -1 is
 * null), then per header name and value lengths; the bytes are the key, the
 * value, then each header's name and value. Keys and values are views of
 * the bytes.
 * @param {string} topic @param {Buffer | [Buffer, Float64Array]} result
 */
function unpackRecords(topic, result) {
  const records = Array.isArray(result)
    ? unpackBatch(result[0], result[1], 0, topic, null)
    : unpackBatch(result, readScratch, 0, topic, null, 1, 1 + readScratch[0]);
  if (readScratch.length > KEEP_READ_SLOTS) {
    readScratch = new Float64Array(1 + 6 * 500);
    readScratchBytes = Buffer.from(readScratch.buffer);
  }
  return records;
}

/**
 * Turns packed records (bytes and numbers) into record objects. Each
 * record's numbers follow `prefix` numbers of the caller's: none for a read
 * (prefix 0; `topics` is the topic's name); for a poll (prefix 1) the index
 * of the record's topic in `topics`; for a receive (prefix 2) the delivery
 * count and token id, which go into `extras` (two per record). The layout
 * after the prefix is `unpackRecords`'s.
 * @param {Buffer} data @param {Float64Array} meta @param {0 | 1 | 2} prefix
 * @param {readonly string[] | string} topics @param {number[] | null} extras
 * @param {number} [start] @param {number} [end] the numbers' part of `meta` (default: all)
 */
function unpackBatch(data, meta, prefix, topics, extras, start = 0, end = meta.length) {
  const ab = data.buffer;
  let d = data.byteOffset;
  let m = start;
  const n = end;
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
      key = new RecordBuffer(ab, d, keyLength);
      d += keyLength;
    }
    let value = null;
    if (valueLength >= 0) {
      value = new RecordBuffer(ab, d, valueLength);
      d += valueLength;
    }
    /** @type {[string, Buffer][]} */
    const headers = [];
    for (let h = 0; h < headerCount; h++) {
      const nameLength = meta[m];
      const headerLength = meta[m + 1];
      m += 2;
      const name = decodeUtf8(new Uint8Array(ab, d, nameLength));
      d += nameLength;
      headers.push([name, /** @type {Buffer} */ (/** @type {unknown} */ (new RecordBuffer(ab, d, headerLength)))]);
      d += headerLength;
    }
    records.push({ topic, partition, offset, timestampMs, key, value, headers });
  }
  return records;
}

module.exports = {
  EMPTY,
  typeName,
  checkString,
  checkData,
  checkNumber,
  checkOptNumber,
  checkTime,
  checkOptions,
  checkKeys,
  checkOptBoolean,
  Packer,
  packNumber,
  where,
  readNumbers,
  unpackRecords,
  unpackBatch,
};
