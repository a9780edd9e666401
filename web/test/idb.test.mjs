// The IndexedDB layer on its own (in Node, over fake-indexeddb): a tab's
// mirror caught up through the journal, and — once it is too far behind
// for the journal — by reading every file again, ends up holding what the
// database holds, files replaced (new generation) and removed included.

import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as idb from '../src/idb.js';

const PAGE = 64 * 1024;

/** A mirror as the wasm pond keeps one: name -> { gen, bytes }. */
class FakeMirror {
  /** @type {Map<string, { gen: number, bytes: Uint8Array }>} */
  files = new Map();
  fileNames() {
    return [...this.files.keys()];
  }
  /** @param {string} name */
  applyRemoved(name) {
    this.files.delete(name);
  }
  /** @param {string} name @param {number} len @param {number} gen */
  applyFile(name, len, gen) {
    const f = this.files.get(name);
    const bytes = new Uint8Array(len);
    if (f !== undefined && f.gen === gen) bytes.set(f.bytes.subarray(0, Math.min(len, f.bytes.length)));
    this.files.set(name, { gen, bytes });
  }
  /** @param {string} name @param {number} index @param {Uint8Array} page */
  applyPage(name, index, page) {
    const f = this.files.get(name);
    if (f === undefined) return;
    const at = index * PAGE;
    if (at >= f.bytes.length) return;
    f.bytes.set(page.subarray(0, Math.min(page.length, f.bytes.length - at)), at);
  }
}

/** A deterministic pseudo-random source. @param {number} seed */
function rng(seed) {
  let s = seed >>> 0;
  return (/** @type {number} */ n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/**
 * Commits `count` random versions after `from` to `db`, changing `model`
 * (name -> { gen, bytes }) as the database changes.
 * @param {IDBDatabase} db @param {Map<string, { gen: number, bytes: Uint8Array }>} model @param {number} from @param {number} count @param {(n: number) => number} rand
 */
async function commitRandom(db, model, from, count, rand) {
  const names = ['a', 'b/c', 'b/d'];
  for (let v = from + 1; v <= from + count; v++) {
    const name = names[rand(names.length)];
    const kind = rand(10);
    /** @type {{ files: any[], removed: string[] }} */
    const changes = { files: [], removed: [] };
    if (kind === 0) {
      if (model.has(name)) changes.removed.push(name);
      model.delete(name);
    } else {
      const old = model.get(name);
      const replace = old === undefined || kind === 1;
      const len = replace ? rand(3 * PAGE) : Math.max(0, old.bytes.length + rand(PAGE) - PAGE / 4);
      const bytes = new Uint8Array(len);
      if (!replace) bytes.set(old.bytes.subarray(0, Math.min(len, old.bytes.length)));
      // Change one page (or all pages of a new file).
      const pages = new Set();
      if (replace) for (let p = 0; p * PAGE < len; p++) pages.add(p);
      else if (len > 0) pages.add(rand(Math.ceil(len / PAGE)));
      for (const p of pages) for (let i = p * PAGE; i < Math.min(len, (p + 1) * PAGE); i += 97) bytes[i] = (v + i) & 0xff;
      // A cut last page is written again, as the mirror does.
      if (!replace && old !== undefined && len < old.bytes.length && len > 0) pages.add(Math.floor((len - 1) / PAGE));
      const gen = replace ? v : old.gen;
      model.set(name, { gen, bytes });
      const list = [...pages].filter((p) => p * PAGE < len).sort((x, y) => x - y);
      changes.files.push({ name, len, gen, pages: list, data: list.map((p) => bytes.slice(p * PAGE, Math.min(len, (p + 1) * PAGE))) });
    }
    await idb.inTransaction(db, 'default', async (tx) => idb.commitMirror(tx, { takeChanges: () => changes }, v - 1, PAGE));
  }
}

/** @param {FakeMirror} mirror @param {Map<string, { gen: number, bytes: Uint8Array }>} model */
function assertSame(mirror, model) {
  assert.deepEqual([...mirror.files.keys()].sort(), [...model.keys()].sort());
  for (const [name, f] of model) {
    const m = /** @type {{ gen: number, bytes: Uint8Array }} */ (mirror.files.get(name));
    assert.equal(m.gen, f.gen, `${name} generation`);
    assert.ok(Buffer.from(m.bytes).equals(Buffer.from(f.bytes)), `${name} bytes`);
  }
}

/** @param {IDBDatabase} db @param {FakeMirror} mirror @param {number} mine */
const catchUp = (db, mirror, mine) => idb.inTransaction(db, 'default', (tx) => idb.catchUp(tx, mirror, mine));

test('a mirror catches up through the journal, and by reading everything when the journal is too short', async () => {
  const db = await idb.openDb(`catch-up-${Math.random()}`);
  const model = new Map();
  const rand = rng(7);
  const near = new FakeMirror();
  let nearAt = 0;
  // A tab that catches up often: through the journal.
  for (let round = 0; round < 20; round++) {
    await commitRandom(db, model, round * 30, 30, rand);
    nearAt = await catchUp(db, near, nearAt);
    assert.equal(nearAt, (round + 1) * 30);
    assertSame(near, model);
  }
  // A tab left behind by more than the journal keeps (1000 versions): it
  // reads every file again, and drops the files that are gone.
  const far = new FakeMirror();
  far.files.set('gone', { gen: 1, bytes: new Uint8Array(10) });
  await commitRandom(db, model, 600, 600, rand);
  // The journal no longer reaches back to version 2: far cannot use it.
  const journal = await new Promise((resolve, reject) => {
    const r = db.transaction('journal').objectStore('journal').getAllKeys();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  assert.deepEqual([journal.length, journal[0]], [1000, 201], 'the last 1000 versions are kept');
  const head = await catchUp(db, far, 1);
  assert.equal(head, 1200);
  assertSame(far, model);
  // And the near one goes on through the journal.
  await catchUp(db, near, nearAt);
  assertSame(near, model);
  db.close();
});
