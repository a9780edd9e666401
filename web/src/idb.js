// The IndexedDB side of a pond: one database per pond, named
// `logpond:<name>`, with two object stores:
//
//   files  name -> { len }                 the length of every file
//   pages  [name, index] -> Uint8Array     the file's bytes, PAGE_SIZE per page
//                                          (the last page may be short)
//
// A flush writes every changed page, length and removal in ONE readwrite
// transaction, so IndexedDB always holds the pond as it was between two
// operations: all of a flush, or none of it. A Web Lock (`logpond:<name>`)
// keeps a second tab or worker from opening the same pond.

import { errorOf } from './shared/internal.js';

const DB_PREFIX = 'logpond:';
const LOCK_PREFIX = 'logpond:';
const DB_VERSION = 1;
const FILES = 'files';
const PAGES = 'pages';
/** Pages read per request while loading (bounds the memory a load holds twice). */
const LOAD_CHUNK = 128;

/** IndexedDB of this global scope (a window or a worker). */
function factory() {
  const f = /** @type {IDBFactory | undefined} */ (globalThis.indexedDB);
  if (f === undefined) throw errorOf('IO', 'IndexedDB is not available in this context');
  return f;
}

/** @template T @param {IDBRequest<T>} r @returns {Promise<T>} */
function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Resolves when `tx` commits; rejects with the reason it aborted. @param {IDBTransaction} tx */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(undefined);
    tx.onerror = (ev) => ev.preventDefault(); // reported once, by onabort
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

/**
 * Takes the pond's Web Lock, waiting up to `waitMs` for another holder to
 * let go; returns the function that releases it. Without the Web Locks API
 * (very old browsers) nothing is locked.
 * @param {string} name @param {number} waitMs
 * @returns {Promise<() => void>}
 */
export async function acquireLock(name, waitMs) {
  const locks = /** @type {LockManager | undefined} */ (globalThis.navigator?.locks);
  if (locks === undefined) return () => {};
  /** @type {() => void} */
  let release = () => {};
  const held = new Promise((resolve) => {
    release = () => resolve(undefined);
  });
  const granted = await new Promise((resolve, reject) => {
    /** @type {LockOptions} */
    const options = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    locks
      .request(LOCK_PREFIX + name, options, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : held;
      })
      .catch((e) => {
        if (e?.name === 'TimeoutError' || e?.name === 'AbortError') resolve(false);
        else reject(e);
      });
  });
  if (!granted) {
    throw errorOf('POND_LOCKED', `IndexedDB pond ${JSON.stringify(name)} is open in another tab, window or worker`);
  }
  return release;
}

/** Opens (creating if needed) the database of pond `name`. @param {string} name @returns {Promise<IDBDatabase>} */
export async function openDb(name) {
  const r = factory().open(DB_PREFIX + name, DB_VERSION);
  r.onupgradeneeded = () => {
    const db = r.result;
    if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES);
    if (!db.objectStoreNames.contains(PAGES)) db.createObjectStore(PAGES);
  };
  const db = await request(r);
  // Someone deletes or upgrades the database: let them (this pond's
  // later flushes fail with an IoError).
  db.onversionchange = () => db.close();
  return db;
}

/** Deletes pond `name`'s database. @param {string} name */
export async function deleteDb(name) {
  const r = factory().deleteDatabase(DB_PREFIX + name);
  await request(/** @type {IDBRequest<any>} */ (/** @type {unknown} */ (r)));
}

/**
 * Reads every file of the database into `loader` (a WasmLoader): lengths
 * first, then pages in chunks, all in one read transaction.
 * @param {IDBDatabase} db @param {{ file(name: string, len: number): void, page(name: string, index: number, bytes: Uint8Array): void }} loader
 */
export async function load(db, loader) {
  const tx = db.transaction([FILES, PAGES], 'readonly');
  const files = tx.objectStore(FILES);
  const pages = tx.objectStore(PAGES);
  const [names, metas] = await Promise.all([request(files.getAllKeys()), request(files.getAll())]);
  /** @type {Set<string>} */
  const known = new Set();
  for (let i = 0; i < names.length; i++) {
    const name = /** @type {string} */ (names[i]);
    loader.file(name, metas[i].len);
    known.add(name);
  }
  /** @type {IDBKeyRange | null} */
  let range = null;
  for (;;) {
    const [keys, values] = await Promise.all([
      request(pages.getAllKeys(range, LOAD_CHUNK)),
      request(pages.getAll(range, LOAD_CHUNK)),
    ]);
    for (let i = 0; i < keys.length; i++) {
      const [name, index] = /** @type {[string, number]} */ (/** @type {unknown} */ (keys[i]));
      // Pages of a file without a length are left over from an old removal.
      if (known.has(name)) loader.page(name, index, values[i]);
    }
    if (keys.length < LOAD_CHUNK) break;
    range = IDBKeyRange.lowerBound(keys[keys.length - 1], true);
  }
  await done(tx);
}

/** @param {string} name @param {number} from */
function pagesFrom(name, from) {
  return IDBKeyRange.bound([name, from], [name, Infinity]);
}

/**
 * Writes changes taken from the mirror in one transaction: removed files
 * (their length and pages), then each changed file's length and pages,
 * dropping pages past its new length.
 * @param {IDBDatabase} db
 * @param {{ files: Array<{ name: string, len: number, pages: number[], data: Uint8Array[] }>, removed: string[] }} changes
 * @param {IDBTransactionDurability} durability
 * @param {number} pageSize
 */
export async function write(db, changes, durability, pageSize) {
  const tx = db.transaction([FILES, PAGES], 'readwrite', { durability });
  const finished = done(tx);
  try {
    const files = tx.objectStore(FILES);
    const pages = tx.objectStore(PAGES);
    for (const name of changes.removed) {
      files.delete(name);
      pages.delete(pagesFrom(name, 0));
    }
    for (const f of changes.files) {
      files.put({ len: f.len }, f.name);
      for (let i = 0; i < f.pages.length; i++) pages.put(f.data[i], [f.name, f.pages[i]]);
      pages.delete(pagesFrom(f.name, Math.ceil(f.len / pageSize)));
    }
    tx.commit?.();
  } catch (e) {
    // A request that could not even be placed (e.g. the connection closed).
    try {
      tx.abort();
    } catch {
      // already finished
    }
    await finished.catch(() => {});
    throw e;
  }
  await finished;
}

/** Whether the database holds no file. @param {IDBDatabase} db */
export async function isEmpty(db) {
  const tx = db.transaction([FILES], 'readonly');
  const n = await request(tx.objectStore(FILES).count());
  return n === 0;
}

/**
 * Replaces everything the database holds with `files`, in one transaction.
 * @param {IDBDatabase} db @param {Array<{ name: string, bytes: Uint8Array }>} files
 * @param {IDBTransactionDurability} durability @param {number} pageSize
 */
export async function replaceAll(db, files, durability, pageSize) {
  const tx = db.transaction([FILES, PAGES], 'readwrite', { durability });
  const finished = done(tx);
  const store = tx.objectStore(FILES);
  const pages = tx.objectStore(PAGES);
  store.clear();
  pages.clear();
  for (const { name, bytes } of files) {
    store.put({ len: bytes.length }, name);
    for (let i = 0, p = 0; p < bytes.length; i++, p += pageSize) {
      pages.put(bytes.slice(p, Math.min(p + pageSize, bytes.length)), [name, i]);
    }
  }
  tx.commit?.();
  await finished;
}
