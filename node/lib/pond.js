// Pond for Node: the shared Pond (lib/shared/pond.js) over a directory or
// memory, with Node's synchronous flush and close.

import { fileURLToPath } from 'node:url';
import native from './native.js';
import { pondBackend } from './backend.js';
import { Pond as SharedPond } from './shared/pond.js';
import { kCreate, disposable, errorOf, call } from './shared/internal.js';
import { clockOption } from './shared/clock.js';
import { checkString, checkOptions, checkKeys, checkOptBoolean } from './shared/check.js';

const OPEN_KEYS = new Set(['durability', 'clock', 'groupAccess', 'readOnly']);
const MEMORY_KEYS = new Set(['clock']);

/** An embeddable event broker over one directory (or memory). */
export class Pond extends SharedPond {
  #handle;
  #where;

  /** @private Use `Pond.open(path)` or `Pond.memory()`. */
  constructor(/** @type {symbol} */ token, /** @type {any} */ handle, /** @type {string} */ where) {
    if (token !== kCreate) throw new TypeError('use Pond.open(path) or Pond.memory() to get a Pond');
    super(token, pondBackend(handle));
    this.#handle = handle;
    this.#where = where;
  }

  /**
   * Opens (creating if needed) the pond in directory `path`. Any number of
   * handles, in this process and others, may have it open at once; they
   * share it live. `readOnly: true`: a handle that never writes.
   * @param {string | URL} path @param {{ durability?: 'os' | 'fsync', clock?: any, groupAccess?: boolean, readOnly?: boolean }} [options]
   */
  static open(path, options) {
    if (path instanceof URL) path = fileURLToPath(path);
    checkString(path, 'path');
    if (path.length === 0) throw errorOf('INVALID_ARGUMENT', 'path must not be empty');
    const o = checkOptions(options, 'Pond.open options');
    checkKeys(o, OPEN_KEYS, 'Pond.open');
    const durability = o.durability ?? 'os';
    checkString(durability, 'durability');
    if (durability !== 'os' && durability !== 'fsync') {
      throw errorOf('INVALID_ARGUMENT', `durability must be 'os' or 'fsync', got '${durability}'`);
    }
    const clock = clockOption(o.clock, 'clock')?.native;
    const groupAccess = checkOptBoolean(o.groupAccess, 'groupAccess') ?? false;
    const readOnly = checkOptBoolean(o.readOnly, 'readOnly') ?? false;
    const p = /** @type {string} */ (path);
    return new Pond(kCreate, call(() => native.pondOpen(p, durability === 'fsync', clock, groupAccess, readOnly)), p);
  }

  /** A pond in memory: nothing is kept after close. @param {{ clock?: any }} [options] */
  static memory(options) {
    const o = checkOptions(options, 'Pond.memory options');
    checkKeys(o, MEMORY_KEYS, 'Pond.memory');
    const clock = clockOption(o.clock, 'clock')?.native;
    return new Pond(kCreate, call(() => native.pondMemory(clock)), ':memory:');
  }

  /** Makes every append so far durable (fsync), whatever the durability mode. */
  flush() {
    call(() => native.flush(this.#handle));
  }

  /** Closes the pond and releases its directory; later calls throw `Closed`. Closing twice is harmless. */
  close() {
    call(() => native.close(this.#handle));
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Pond { ${this.#where}${this.closed ? ', closed' : ''} }`;
  }
}
disposable(Pond);
