// The package in a dedicated worker: the pond it writes to IndexedDB opens
// in the page afterwards.

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

test('works inside a dedicated worker, on IndexedDB', async () => {
  const page = await env.page();
  const result = await page.evaluate(async () => {
    const { Pond } = /** @type {any} */ (window).logpond;
    await Pond.deleteIndexedDb('in-worker');
    const worker = new Worker('/test/pages/worker.js', { type: 'module' });
    const reply = await new Promise((resolve, reject) => {
      worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
      worker.onmessage = (e) => {
        if (e.data.ready) worker.postMessage({ name: 'in-worker' });
        else resolve(e.data);
      };
    });
    worker.terminate();
    // The page opens what the worker wrote.
    const pond = await Pond.openIndexedDb('in-worker', { lockTimeoutMs: 5000 });
    const q = await pond.queue('events', { subscription: 'w' });
    const inPage = { end: pond.describe('events').partitions.map((p) => p.endOffset), backlog: q.backlog() };
    await pond.close();
    return { reply, inPage };
  });
  assert.deepEqual(result.reply, { ok: true, polled: ['one', 'three', 'two'], received: 3, code: 'TOPIC_NOT_FOUND', ts: 15, scope: true });
  assert.deepEqual(result.inPage, { end: [2, 1], backlog: 2 });
});
