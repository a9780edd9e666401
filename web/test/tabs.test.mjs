// Several tabs and a worker on one IndexedDB pond (SHARING.md): producers
// in two tabs and a worker get dense, unique offsets; a group's members in
// two tabs split its partitions; queue workers in two tabs compete, and
// the leases of a tab closed mid-stream come back; a wait in one tab wakes
// when another sends; a reload while another tab writes loses nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from './browser.mjs';

/** @type {Awaited<ReturnType<typeof setup>>} */
let env;

before(async () => {
  env = await setup();
});

after(async () => {
  await env?.close();
});

/** Opens pond `name` in `page` as `window.pond` (fresh when `fresh`). @param {import('playwright-core').Page} page @param {string} name */
async function openIn(page, name, fresh = false) {
  await page.evaluate(
    async ({ name, fresh }) => {
      const { Pond } = /** @type {any} */ (window).logpond;
      if (fresh) await Pond.deleteIndexedDb(name);
      /** @type {any} */ (window).pond = await Pond.openIndexedDb(name);
    },
    { name, fresh },
  );
}

/** The page's errors so far (none expected). @param {import('playwright-core').Page} page */
const errorsOf = (page) => /** @type {any} */ (page).errors.map(String);

/** Closes each page's pond, checks the page logged no error, and closes the page. @param {import('playwright-core').Page[]} pages */
async function closePages(pages) {
  for (const p of pages) {
    await p.evaluate(() => /** @type {any} */ (window).pond.close());
    assert.deepEqual(errorsOf(p), []);
    await p.close();
  }
}

/**
 * In a page with `window.pond`: a member of group `g` on topic `t` that
 * polls until `window.stop`, keeping what it got (`window.got`) and its
 * consumer (`window.consumer`); `window.loop` resolves the partitions it
 * owned at the end.
 */
function startMember() {
  const w = /** @type {any} */ (window);
  w.got = [];
  w.stop = false;
  w.loop = (async () => {
    const c = await w.pond.consumer({ group: 'g', topics: ['t'], autoOffsetReset: 'earliest', sessionTimeoutMs: 6000 });
    w.consumer = c;
    while (!w.stop) {
      for (const r of await c.poll({ maxRecords: 5, timeoutMs: 200 })) w.got.push(`${r.partition}:${r.offset}`);
      await c.commit();
    }
    const owned = c.assignment().map((/** @type {any} */ x) => x.partition);
    await c.close();
    return owned;
  })();
}

/** The partitions the page's member owns now (none before it has joined). @param {import('playwright-core').Page} page @returns {Promise<number[]>} */
const ownedIn = (page) =>
  page.evaluate(() => (/** @type {any} */ (window).consumer?.assignment() ?? []).map((/** @type {any} */ x) => x.partition));

test('producers in two tabs and a worker: every record once, offsets dense, each producer in order', async () => {
  const [a, b, c] = [await env.page(), await env.page(), await env.page()];
  await openIn(a, 'producers', true);
  await a.evaluate(() => /** @type {any} */ (window).pond.createTopic('t'));
  await openIn(b, 'producers');
  /** Sends `tag:0..n-1` in `page`, awaiting each: resolves the offsets they got. */
  const produce = (/** @type {import('playwright-core').Page} */ page, /** @type {string} */ tag, /** @type {number} */ n) =>
    page.evaluate(
      async ({ tag, n }) => {
        const pond = /** @type {any} */ (window).pond;
        const offsets = [];
        for (let i = 0; i < n; i++) offsets.push((await pond.send('t', `${tag}:${i}`)).offset);
        return offsets;
      },
      { tag, n },
    );
  const inWorker = c.evaluate(
    ({ n }) =>
      new Promise((resolve, reject) => {
        const worker = new Worker('/test/pages/producer-worker.js', { type: 'module' });
        worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
        worker.onmessage = (e) => {
          if (e.data.ready) worker.postMessage({ name: 'producers', topic: 't', tag: 'w', n });
          else {
            worker.terminate();
            resolve(e.data);
          }
        };
      }),
    { n: 150 },
  );
  const [fromA, fromB, fromWorker] = await Promise.all([
    produce(a, 'a', 150),
    produce(b, 'b', 150),
    inWorker,
  ]);
  assert.equal(fromWorker.error, undefined);
  const all = [...fromA, ...fromB, ...fromWorker.offsets].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 450 }, (_, i) => i), 'dense and unique across tabs');
  // A third tab opens and reads it all: each producer's records in its order.
  await openIn(c, 'producers');
  const values = await c.evaluate(() => {
    const { pond, text } = /** @type {any} */ (window);
    return pond.read('t', 0, { maxRecords: 1000 }).map((r) => text(r.value));
  });
  assert.equal(values.length, 450);
  for (const tag of ['a', 'b', 'w']) {
    const mine = values.filter((v) => v.startsWith(`${tag}:`));
    assert.deepEqual(mine, Array.from({ length: 150 }, (_, i) => `${tag}:${i}`), `${tag} in order`);
  }
  // Each producer's offsets are the ones the reader sees its values at.
  const at = new Map(values.map((v, i) => [v, i]));
  fromA.forEach((o, i) => assert.equal(at.get(`a:${i}`), o));
  fromB.forEach((o, i) => assert.equal(at.get(`b:${i}`), o));
  await closePages([a, b, c]);
});

test('a group with members in two tabs splits the partitions; every record is consumed once', async () => {
  const [a, b] = [await env.page(), await env.page()];
  await openIn(a, 'group', true);
  await a.evaluate(async () => {
    const pond = /** @type {any} */ (window).pond;
    await pond.createTopic('t', { partitions: 4 });
  });
  await openIn(b, 'group');
  await a.evaluate(startMember);
  await b.evaluate(startMember);
  await a.evaluate(async () => {
    const pond = /** @type {any} */ (window).pond;
    for (let i = 0; i < 40; i++) await pond.send('t', `v${i}`, { partition: i % 4 });
  });
  const deadline = Date.now() + 20_000;
  let counts = [0, 0];
  while (Date.now() < deadline) {
    counts = await Promise.all([a, b].map((p) => p.evaluate(() => /** @type {any} */ (window).got.length)));
    if (counts[0] + counts[1] >= 40) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Both hold partitions at the end: the group split them.
  const [ownedA, ownedB] = await Promise.all([a, b].map(ownedIn));
  assert.equal(ownedA.length + ownedB.length, 4, `${ownedA} / ${ownedB}`);
  assert.ok(ownedA.length > 0 && ownedB.length > 0, `split: ${ownedA} / ${ownedB}`);
  assert.deepEqual(ownedA.filter((p) => ownedB.includes(p)), [], 'no partition owned twice');
  const got = await Promise.all(
    [a, b].map((p) =>
      p.evaluate(async () => {
        const w = /** @type {any} */ (window);
        w.stop = true;
        await w.loop;
        return w.got;
      }),
    ),
  );
  const all = [...got[0], ...got[1]];
  assert.equal(all.length, 40, `every record once (got ${all.length})`);
  assert.equal(new Set(all).size, 40, 'none twice');
  await closePages([a, b]);
});

test("a group member's tab that crashes: its partitions move to the member left, which reads on", async () => {
  const [a, b] = [await env.page(), await env.page()];
  await openIn(a, 'group-crash', true);
  await a.evaluate(() => /** @type {any} */ (window).pond.createTopic('t', { partitions: 4 }));
  await openIn(b, 'group-crash');
  await a.evaluate(startMember);
  await b.evaluate(startMember);
  /** Waits until `check` holds (20 s at most). @param {() => Promise<boolean>} check */
  const until = async (check) => {
    const deadline = Date.now() + 20_000;
    while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  };
  await until(async () => (await ownedIn(a)).length > 0 && (await ownedIn(b)).length > 0);
  assert.ok((await ownedIn(a)).length > 0, 'a owned partitions before it crashed');
  // Kill a's renderer: no pagehide, no close; its holder's Web Lock goes with it.
  await a.goto('chrome://crash').catch(() => {});
  await a.close().catch(() => {});
  const start = Date.now();
  await until(async () => (await ownedIn(b)).length === 4);
  assert.deepEqual((await ownedIn(b)).sort(), [0, 1, 2, 3], 'every partition moved to b');
  assert.ok(Date.now() - start < 6000, `moved in ${Date.now() - start} ms, before the 6 s session timeout`);
  await b.evaluate(async () => {
    const pond = /** @type {any} */ (window).pond;
    for (let i = 0; i < 8; i++) await pond.send('t', `after ${i}`, { partition: i % 4 });
  });
  await until(() => b.evaluate(() => /** @type {any} */ (window).got.length >= 8));
  const owned = await b.evaluate(async () => {
    const w = /** @type {any} */ (window);
    w.stop = true;
    return w.loop;
  });
  assert.deepEqual(owned.sort(), [0, 1, 2, 3]);
  const got = await b.evaluate(() => /** @type {any} */ (window).got);
  assert.equal(new Set(got).size, 8, `b read each record sent after the crash once: ${got}`);
  assert.equal(got.length, 8);
  await closePages([b]);
});

test('queue workers in two tabs compete; a tab closed mid-stream gives its leases back; every record is acked', async () => {
  const [a, b] = [await env.page(), await env.page()];
  await openIn(a, 'queue', true);
  await a.evaluate(async () => {
    const pond = /** @type {any} */ (window).pond;
    await pond.createTopic('jobs', { partitions: 2 });
    // A long ack timeout: the closed tab's leases must come back because it is gone, not by timeout.
    const q = await pond.queue('jobs', { subscription: 'workers', ackTimeoutMs: 600_000 });
    await pond.sendMany('jobs', Array.from({ length: 60 }, (_, i) => `job ${i}`));
    // a takes 5 and never settles them: it is closed holding them.
    /** @type {any} */ (window).held = (await q.receive({ maxMessages: 5 })).map((d) => d.record.value);
  });
  await openIn(b, 'queue');
  const start = Date.now();
  await b.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.acked = [];
    w.redelivered = 0;
    w.loop = (async () => {
      const q = await w.pond.queue('jobs', { subscription: 'workers' });
      for await (const d of q) {
        if (d.deliveryCount > 1) w.redelivered++;
        await d.ack();
        w.acked.push(`${d.record.partition}:${d.record.offset}`);
        if (w.acked.length === 60) break;
      }
      const left = q.backlog();
      await q.close();
      return left;
    })();
  });
  // a is closed abruptly while b works (no close, no flush).
  await new Promise((r) => setTimeout(r, 100));
  await a.close();
  const result = await b.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const left = await Promise.race([w.loop, new Promise((r) => setTimeout(() => r('timed out'), 20_000))]);
    return { left, acked: w.acked, redelivered: w.redelivered };
  });
  assert.equal(result.left, 0, `backlog left: ${result.left}`);
  assert.equal(new Set(result.acked).size, 60, 'every record acked once');
  assert.equal(result.redelivered, 5, "the closed tab's 5 leases were delivered again");
  assert.ok(Date.now() - start < 20_000);
  await closePages([b]);
});

test('a wait in one tab wakes when another tab sends', async () => {
  const [a, b] = [await env.page(), await env.page()];
  await openIn(a, 'wake', true);
  await a.evaluate(() => /** @type {any} */ (window).pond.createTopic('t'));
  await openIn(b, 'wake');
  await b.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const q = await w.pond.queue('t', { subscription: 's' });
    w.waiting = q.receive({ timeoutMs: 10_000 }).then((ds) => ({ n: ds.length, at: Date.now() }));
  });
  const sentAt = await a.evaluate(async () => {
    await /** @type {any} */ (window).pond.send('t', 'hello');
    return Date.now();
  });
  const woke = await b.evaluate(() => /** @type {any} */ (window).waiting);
  assert.equal(woke.n, 1);
  assert.ok(woke.at - sentAt < 2000, `woke ${woke.at - sentAt} ms after the send`);
  await closePages([a, b]);
});

test('a tab reloaded while another writes loses nothing the writer was told is stored', async () => {
  const [a, b] = [await env.page(), await env.page()];
  await openIn(a, 'reload', true);
  await a.evaluate(async () => {
    const w = /** @type {any} */ (window);
    await w.pond.createTopic('t');
    w.sent = 0;
    w.loop = (async () => {
      for (let i = 0; i < 300; i++) {
        await w.pond.send('t', `r${i}`);
        w.sent = i + 1;
      }
    })();
  });
  await openIn(b, 'reload');
  await b.evaluate(() => /** @type {any} */ (window).pond.send('t', 'from b'));
  await b.reload();
  await b.waitForFunction(() => /** @type {any} */ (window).ready === true);
  await openIn(b, 'reload');
  await a.evaluate(() => /** @type {any} */ (window).loop);
  const values = await b.evaluate(async () => {
    const { pond, text } = /** @type {any} */ (window);
    await pond.send('t', 'after reload'); // its transaction takes in everything a wrote
    return pond.read('t', 0, { maxRecords: 1000 }).map((r) => text(r.value));
  });
  const fromA = values.filter((v) => v.startsWith('r'));
  assert.deepEqual(fromA, Array.from({ length: 300 }, (_, i) => `r${i}`));
  assert.ok(values.includes('from b'));
  assert.equal(values[values.length - 1], 'after reload');
  await closePages([a, b]);
});
