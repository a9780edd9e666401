// The IndexedDB side of a pond: one database per pond, named
// `logpond:<name>`, with four object stores:
//
//   files    name -> { len, gen }           every file's length and generation
//                                           (new when the name is created or
//                                           replaced: see MirrorStorage)
//   pages    [name, index] -> Uint8Array    the file's bytes, PAGE_SIZE per page
//                                           (the last page may be short)
//   journal  version -> { files: [[name, pages]], removed: [name] }
//                                           what each write transaction changed
//   meta     'version' -> number            the last write transaction's number
//
// Every tab (or worker) holds all files in its mirror. A tab changes its
// mirror only inside one of its readwrite transactions, which IndexedDB
// runs one at a time: it first takes in what other tabs committed since
// its last transaction (the journal says which pages; when the journal no
// longer reaches back that far, every file is read again), then runs its
// operations, then writes what they changed with the next version number
// (see SHARING.md in the package).

import { errorOf } from './shared/internal.js';
import { holderClaim } from './wasm.js';

const DB_PREFIX = 'logpond:';
const LOCK_PREFIX = 'logpond:';
const DB_VERSION = 2;
const FILES = 'files';
const PAGES = 'pages';
const JOURNAL = 'journal';
const META = 'meta';
/** The stores a write transaction covers. */
export const STORES = [FILES, PAGES, JOURNAL, META];
/** Journal entries kept: a tab further behind reads every file again. */
const JOURNAL_KEEP = 1000;
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
 * Requests Web Lock `name` with `options` and, when it is granted, holds
 * it until the returned function is called; resolves null when it is not
 * granted (`ifAvailable`, or `signal` aborted or timed out first).
 * @param {LockManager} locks @param {string} name @param {LockOptions} options
 * @returns {Promise<(() => void) | null>}
 */
function holdLock(locks, name, options) {
  /** @type {() => void} */
  let release = () => {};
  const held = new Promise((resolve) => {
    release = () => resolve(undefined);
  });
  return new Promise((resolve, reject) => {
    locks
      .request(name, options, (lock) => {
        resolve(lock === null ? null : release);
        return lock === null ? undefined : held;
      })
      .catch((e) => {
        if (e?.name === 'TimeoutError' || e?.name === 'AbortError') resolve(null);
        else reject(e);
      });
  });
}

/**
 * Takes the pond's Web Lock, waiting up to `waitMs` for another holder to
 * let go; returns the function that releases it. Every tab holds it
 * shared while it has the pond open; a pond that cannot be shared (a
 * ManualClock's) and a deletion take it exclusively. Without the Web
 * Locks API (very old browsers) nothing is locked.
 * @param {string} name @param {number} waitMs @param {LockMode} mode
 * @returns {Promise<() => void>}
 */
export async function acquireLock(name, waitMs, mode) {
  const locks = /** @type {LockManager | undefined} */ (globalThis.navigator?.locks);
  if (locks === undefined) return () => {};
  const options = waitMs > 0 ? { mode, signal: AbortSignal.timeout(waitMs) } : { mode, ifAvailable: true };
  const release = await holdLock(locks, LOCK_PREFIX + name, options);
  if (release === null) {
    throw errorOf(
      'POND_LOCKED',
      mode === 'exclusive'
        ? `IndexedDB pond ${JSON.stringify(name)} is open in another tab, window or worker`
        : `IndexedDB pond ${JSON.stringify(name)} is open with a ManualClock (or being deleted) in another tab, window or worker`,
    );
  }
  return release;
}

/**
 * Takes a holder id for a tab's pond: a random number whose Web Lock
 * (`logpond:<name>:<its claim>`) the tab holds until it closes the pond or
 * dies. Other tabs find a holder gone when its lock is granted to them
 * (`whenGone`). Without Web Locks: a random id, never found gone (its
 * leases end by their timeouts).
 * @param {string} name @returns {Promise<{ id: number, release: () => void }>}
 */
export async function acquireHolder(name) {
  const locks = /** @type {LockManager | undefined} */ (globalThis.navigator?.locks);
  for (;;) {
    const id = 2 + Math.floor(Math.random() * (2 ** 32 - 2));
    if (locks === undefined) return { id, release: () => {} };
    const release = await holdLock(locks, holderLock(name, holderClaim(id)), { ifAvailable: true });
    if (release !== null) return { id, release };
  }
}

/** The Web Lock of claim `what` (as the core names it) in pond `name`. @param {string} name @param {string} what */
function holderLock(name, what) {
  return `${LOCK_PREFIX}${name}:${what}`;
}

/**
 * Resolves true once the holder of claim `what` is gone: when its Web Lock
 * is granted here (and let go at once). A holder's id reaches IndexedDB
 * only after it took its lock, so a lock granted means it closed or died.
 * Resolves false when `signal` aborts first, or without Web Locks.
 * @param {string} name @param {string} what @param {AbortSignal} signal @returns {Promise<boolean>}
 */
export async function whenGone(name, what, signal) {
  const locks = /** @type {LockManager | undefined} */ (globalThis.navigator?.locks);
  if (locks === undefined) return false;
  try {
    return await locks.request(holderLock(name, what), { signal }, () => true);
  } catch {
    return false; // aborted: the pond closed
  }
}

/** Opens (creating if needed) the database of pond `name`. @param {string} name @returns {Promise<IDBDatabase>} */
export async function openDb(name) {
  const r = factory().open(DB_PREFIX + name, DB_VERSION);
  r.onupgradeneeded = () => {
    const db = r.result;
    if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES);
    if (!db.objectStoreNames.contains(PAGES)) db.createObjectStore(PAGES);
    if (!db.objectStoreNames.contains(JOURNAL)) db.createObjectStore(JOURNAL);
    if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
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
 * Reads every file of the database into `loader` (a WasmLoader), inside
 * `tx` (a readwrite transaction over STORES): lengths first, then pages in
 * chunks. Returns the database's version.
 * @param {IDBTransaction} tx @param {{ file(name: string, len: number, gen?: number): void, page(name: string, index: number, bytes: Uint8Array): void }} loader
 * @returns {Promise<number>}
 */
export async function load(tx, loader) {
  const files = tx.objectStore(FILES);
  const pages = tx.objectStore(PAGES);
  const [version, names, metas] = await Promise.all([
    request(tx.objectStore(META).get('version')),
    request(files.getAllKeys()),
    request(files.getAll()),
  ]);
  /** @type {Set<string>} */
  const known = new Set();
  for (let i = 0; i < names.length; i++) {
    const name = /** @type {string} */ (names[i]);
    loader.file(name, metas[i].len, metas[i].gen ?? 0);
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
  return version ?? 0;
}

/**
 * What a mirror needs for taking in other tabs' changes (a WasmPond).
 * @typedef {object} Mirror
 * @property {() => string[]} fileNames
 * @property {(name: string) => void} applyRemoved
 * @property {(name: string, len: number, gen: number) => void} applyFile
 * @property {(name: string, index: number, bytes: Uint8Array) => void} applyPage
 */

/**
 * Brings `mirror`, which holds the database as of version `mine`, up to
 * what it holds now, inside `tx` (a readwrite transaction over STORES).
 * Returns the database's version.
 * @param {IDBTransaction} tx @param {Mirror} mirror @param {number} mine
 * @returns {Promise<number>}
 */
export async function catchUp(tx, mirror, mine) {
  const head = (await request(tx.objectStore(META).get('version'))) ?? 0;
  if (head === mine) return head;
  const files = tx.objectStore(FILES);
  const pages = tx.objectStore(PAGES);
  /** @type {any[]} */
  const entries = head > mine ? await request(tx.objectStore(JOURNAL).getAll(IDBKeyRange.bound(mine + 1, head))) : [];
  if (entries.length === head - mine) {
    // The journal reaches back: the files and pages it names.
    /** @type {Map<string, Set<number>>} */
    const touched = new Map();
    for (const e of entries) {
      for (const name of e.removed) touched.set(name, touched.get(name) ?? new Set());
      for (const [name, list] of e.files) {
        const set = touched.get(name) ?? new Set();
        for (const p of list) set.add(p);
        touched.set(name, set);
      }
    }
    const names = [...touched.keys()];
    const metas = await Promise.all(names.map((n) => request(files.get(n))));
    /** @type {Array<[string, number]>} */
    const wanted = [];
    names.forEach((name, i) => {
      const meta = metas[i];
      if (meta === undefined) {
        mirror.applyRemoved(name);
        return;
      }
      mirror.applyFile(name, meta.len, meta.gen ?? 0);
      // Pages past the length are gone from the store (get finds none).
      for (const p of /** @type {Set<number>} */ (touched.get(name))) wanted.push([name, p]);
    });
    const bytes = await Promise.all(wanted.map((key) => request(pages.get(key))));
    wanted.forEach(([name, p], i) => {
      if (bytes[i] !== undefined) mirror.applyPage(name, p, bytes[i]);
    });
    return head;
  }
  // Too far behind (or the database was replaced): every file again.
  const [names, metas] = await Promise.all([request(files.getAllKeys()), request(files.getAll())]);
  const present = new Set(/** @type {string[]} */ (names));
  for (const name of mirror.fileNames()) if (!present.has(name)) mirror.applyRemoved(name);
  for (let i = 0; i < names.length; i++) {
    const name = /** @type {string} */ (names[i]);
    mirror.applyFile(name, metas[i].len, metas[i].gen ?? 0);
    const range = pagesFrom(name, 0);
    const [keys, values] = await Promise.all([request(pages.getAllKeys(range)), request(pages.getAll(range))]);
    for (let j = 0; j < keys.length; j++) {
      mirror.applyPage(name, /** @type {[string, number]} */ (/** @type {unknown} */ (keys[j]))[1], values[j]);
    }
  }
  return head;
}

/** @param {string} name @param {number} from */
function pagesFrom(name, from) {
  return IDBKeyRange.bound([name, from], [name, Infinity]);
}

/**
 * Runs `body` in a readwrite transaction over STORES and resolves what it
 * returns once the transaction has committed. When `body` throws, or the
 * transaction aborts, the transaction is aborted and the error rethrown:
 * nothing of it is stored. `body` may await only IndexedDB requests of
 * `tx` (anything else lets the transaction commit early).
 * @template T @param {IDBDatabase} db @param {IDBTransactionDurability} durability
 * @param {(tx: IDBTransaction) => Promise<T>} body @returns {Promise<T>}
 */
export async function inTransaction(db, durability, body) {
  const tx = db.transaction(STORES, 'readwrite', { durability });
  const finished = done(tx);
  try {
    const value = await body(tx);
    tx.commit?.();
    await finished;
    return value;
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // already finished
    }
    await finished.catch(() => {});
    throw e;
  }
}

/**
 * Writes what `mirror` (a WasmPond) changed since its last take as the
 * version after `head`, inside `tx`; returns the version the database
 * then holds (`head` when nothing changed).
 * @param {IDBTransaction} tx @param {{ takeChanges(gen: number): any }} mirror @param {number} head @param {number} pageSize
 */
export function commitMirror(tx, mirror, head, pageSize) {
  const changes = mirror.takeChanges(head + 1);
  if (changes === null) return head;
  commit(tx, changes, head + 1, pageSize);
  return head + 1;
}

/**
 * Writes changes taken from the mirror as version `version`, inside `tx`
 * (a readwrite transaction over STORES): removed files (their length and
 * pages), then each changed file's length, generation and pages, dropping
 * pages past its new length; the journal entry; the version.
 * @param {IDBTransaction} tx
 * @param {{ files: Array<{ name: string, len: number, gen: number, pages: number[], data: Uint8Array[] }>, removed: string[] }} changes
 * @param {number} version @param {number} pageSize
 */
function commit(tx, changes, version, pageSize) {
  const files = tx.objectStore(FILES);
  const pages = tx.objectStore(PAGES);
  for (const name of changes.removed) {
    files.delete(name);
    pages.delete(pagesFrom(name, 0));
  }
  for (const f of changes.files) {
    files.put({ len: f.len, gen: f.gen }, f.name);
    for (let i = 0; i < f.pages.length; i++) pages.put(f.data[i], [f.name, f.pages[i]]);
    pages.delete(pagesFrom(f.name, Math.ceil(f.len / pageSize)));
  }
  const journal = tx.objectStore(JOURNAL);
  journal.put({ files: changes.files.map((f) => [f.name, f.pages]), removed: changes.removed }, version);
  if (version > JOURNAL_KEEP) journal.delete(IDBKeyRange.upperBound(version - JOURNAL_KEEP));
  tx.objectStore(META).put(version, 'version');
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
export function replaceAll(db, files, durability, pageSize) {
  return inTransaction(db, durability, async (tx) => {
    const store = tx.objectStore(FILES);
    const pages = tx.objectStore(PAGES);
    // A new version with no journal: a tab that has the pond open reads
    // every file again; every file is new (a new generation).
    const version = ((await request(tx.objectStore(META).get('version'))) ?? 0) + 1;
    store.clear();
    pages.clear();
    tx.objectStore(JOURNAL).clear();
    tx.objectStore(META).put(version, 'version');
    for (const { name, bytes } of files) {
      store.put({ len: bytes.length, gen: version }, name);
      for (let i = 0, p = 0; p < bytes.length; i++, p += pageSize) {
        pages.put(bytes.slice(p, Math.min(p + pageSize, bytes.length)), [name, i]);
      }
    }
  });
}
