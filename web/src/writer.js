// Every call that changes a pond goes through its Writer, which runs it
// where the other tabs cannot interfere (SHARING.md in the package):
//
// - An IndexedDB pond runs writes in readwrite transactions, one at a
//   time. Each transaction takes in what other tabs committed since this
//   tab's last one, opens the mirror to writes, runs every write queued
//   meanwhile (so a burst of sends shares one transaction), closes the
//   mirror again, and commits what they changed as the next version. A
//   write's Promise resolves once its transaction has committed. Then the
//   other tabs are told (BroadcastChannel), and they take the change in
//   with a transaction of their own, which wakes their waiting polls.
// - A memory pond has nobody to coordinate with: a write runs at once.
//
// When IndexedDB refuses a transaction (the quota is exceeded, the
// database was deleted), the mirror holds what IndexedDB does not: the
// writes of that transaction reject with IoError and the pond closes (what
// earlier transactions wrote is in IndexedDB: open the pond again).

import * as idb from './idb.js';
import { errorOf } from './shared/internal.js';

/**
 * @typedef {object} Pending
 * @property {() => unknown} run
 * @property {boolean} wake whether waiters may find something after it
 * @property {(v: unknown) => void} resolve
 * @property {(e: unknown) => void} reject
 */

/**
 * @typedef {object} Target
 * @property {IDBDatabase} db
 * @property {IDBTransactionDurability} durability
 * @property {string} name the pond's name (its BroadcastChannel's)
 * @property {number} pageSize
 */

/** A little past how long the core trusts a holder it found alive (holder.rs). */
const ALIVE_RECHECK_MS = 1100;

export class Writer {
  /** @type {any} the WasmPond */
  #w;
  /** @type {Target | null} */
  #target;
  /** Wakes this pond's waiters. @type {() => void} */
  #wake;
  /** Closes the pond after a failed transaction. @type {(e: Error) => void} */
  #fail;
  /** The database version the mirror holds. */
  #version;
  /** @type {Pending[]} */
  #queue = [];
  #busy = false;
  /** A catch-up is wanted (another tab committed). */
  #stale = false;
  /** @type {Error | null} */
  #failed = null;
  /** @type {Array<() => void>} */
  #idle = [];
  /** @type {BroadcastChannel | null} */
  #channel = null;
  /** Claims whose holders are watched (their Web Locks). @type {Set<string>} */
  #watching = new Set();
  /** Ends the watches when the pond closes. */
  #watches = new AbortController();

  /**
   * @param {any} w @param {Target | null} target null for a memory pond
   * @param {number} version what the mirror holds @param {() => void} wake @param {(e: Error) => void} fail
   */
  constructor(w, target, version, wake, fail) {
    this.#w = w;
    this.#target = target;
    this.#version = version;
    this.#wake = wake;
    this.#fail = fail;
    if (target !== null && typeof globalThis.BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(channelName(target.name));
      this.#channel.onmessage = (event) => {
        if (typeof event.data === 'number' && event.data > this.#version) this.catchUp();
      };
    }
  }

  /** Whether writes run at once (a memory pond): no transaction to wait for. */
  get direct() {
    return this.#target === null;
  }

  /**
   * Runs `f` (synchronous calls on the wasm pond) as a write; resolves
   * what it returns once it is in IndexedDB, rejects what it throws.
   * `wake`: waiting polls and receives may find something after it (a
   * send, an ack; not a poll's own attempt, which would wake itself).
   * @template T @param {() => T} f @param {boolean} [wake] @returns {Promise<T>}
   */
  run(f, wake = true) {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#target === null) {
      try {
        const v = f();
        if (wake) this.#wake();
        return Promise.resolve(v);
      } catch (e) {
        if (wake) this.#wake();
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ run: f, wake, resolve: /** @type {(v: unknown) => void} */ (resolve), reject });
      this.#pump();
    });
  }

  /** Takes in what other tabs committed, soon (in a transaction of its own unless a write comes first). */
  catchUp() {
    if (this.#target === null || this.#failed !== null) return;
    this.#stale = true;
    this.#pump();
  }

  /** Resolves when every write queued so far has committed (or failed). @returns {Promise<void>} */
  idle() {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(() => resolve(undefined)));
  }

  /** Tells the other tabs of the version this tab holds (after opening wrote). */
  announce() {
    this.#channel?.postMessage(this.#version);
  }

  /** Stops listening to other tabs and watching their holders. */
  close() {
    this.#channel?.close();
    this.#channel = null;
    this.#watches.abort();
  }

  async #pump() {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#failed === null && (this.#queue.length > 0 || this.#stale)) {
        this.#stale = false;
        await this.#transaction();
      }
    } finally {
      this.#busy = false;
      for (const f of this.#idle.splice(0)) f();
    }
  }

  /** One readwrite transaction: catch up, run what is queued, commit. */
  async #transaction() {
    const t = /** @type {Target} */ (this.#target);
    const w = this.#w;
    const before = this.#version;
    /** @type {Pending[]} */
    let batch = [];
    /** @type {Array<{ ok: boolean, v: unknown }>} */
    const results = [];
    let head;
    let version;
    try {
      [head, version] = await idb.inTransaction(t.db, t.durability, async (tx) => {
        const head = await idb.catchUp(tx, w, before);
        // Everything queued up to now runs in this transaction.
        batch = this.#queue.splice(0);
        w.setWritable(true);
        try {
          // Caught up in the core too (its repairs are written here), so
          // reads until the next transaction find nothing to catch up on.
          if (head !== before) w.catchUp();
          for (const p of batch) {
            try {
              results.push({ ok: true, v: p.run() });
            } catch (e) {
              results.push({ ok: false, v: e });
            }
          }
        } finally {
          w.setWritable(false);
        }
        return [head, idb.commitMirror(tx, w, head, t.pageSize)];
      });
    } catch (e) {
      this.#failWith(e, batch.concat(this.#queue.splice(0)));
      return;
    }
    this.#version = version;
    const wrote = version !== head;
    if (wrote) this.#channel?.postMessage(version);
    if (head !== before || (wrote && batch.some((p) => p.wake))) this.#wake();
    this.#checkClaims();
    batch.forEach((p, i) => (results[i].ok ? p.resolve(results[i].v) : p.reject(results[i].v)));
  }

  /**
   * Watches the holders the pond asked about: when one is gone (its Web
   * Lock granted here) it is marked dead, and the waiters look again (now,
   * and once the core's recheck interval has passed), so its leases and
   * memberships end without waiting for their timeouts.
   */
  #checkClaims() {
    const t = /** @type {Target} */ (this.#target);
    for (const what of this.#w.takeAskedClaims()) {
      if (this.#watching.has(what)) continue;
      this.#watching.add(what);
      idb.whenGone(t.name, what, this.#watches.signal).then((gone) => {
        if (!gone || this.#failed !== null) return;
        try {
          this.#w.markDead(what);
        } catch {
          return; // closed meanwhile
        }
        this.#wake();
        setTimeout(() => this.#wake(), ALIVE_RECHECK_MS);
      });
    }
  }

  /** A transaction failed: its writes and all later ones reject; the pond closes. @param {unknown} e @param {Pending[]} pending */
  #failWith(e, pending) {
    const name = /** @type {any} */ (e)?.name ?? '';
    const message = /** @type {any} */ (e)?.message ?? String(e);
    const err = errorOf(
      'IO',
      `IndexedDB refused a write (${`${name} ${message}`.trim()}): the pond is closed; what earlier writes stored is kept, open it again`,
      { cause: e },
    );
    this.#failed = err;
    for (const p of pending) p.reject(err);
    this.close();
    this.#fail(err);
  }
}

/** The BroadcastChannel of pond `name`'s tabs. @param {string} name */
export function channelName(name) {
  return `logpond:${name}`;
}
