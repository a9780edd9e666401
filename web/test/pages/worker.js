// A dedicated (module) worker using the package: IndexedDB is found through
// the worker's global scope.
import { Pond, ManualClock, TopicNotFound } from '/src/index.js';

self.onmessage = async (event) => {
  try {
    const { name } = event.data;
    const text = (b) => (b === null ? null : new TextDecoder().decode(b));
    const pond = await Pond.openIndexedDb(name);
    await pond.createTopic('events', { partitions: 2 });
    const c = await pond.consumer({ group: 'g', topics: ['events'], autoOffsetReset: 'earliest' });
    const waiting = c.poll({ timeoutMs: 5000 });
    await pond.sendMany('events', ['one', 'two', 'three'].map((value, i) => ({ value, partition: i % 2 })));
    const first = await waiting;
    const rest = await c.poll();
    await c.close();
    const q = await pond.queue('events', { subscription: 'w' });
    const got = await q.receive({ maxMessages: 10 });
    await got[0].ack();
    let code = null;
    try {
      await pond.send('missing', 'x');
    } catch (e) {
      code = e instanceof TopicNotFound ? e.code : `wrong class: ${e}`;
    }
    const clock = new ManualClock(5);
    clock.advance(10);
    const memory = Pond.memory({ clock });
    await memory.createTopic('m');
    const ts = (await memory.send('m', 'x')).timestampMs;
    await memory.close();
    await pond.close();
    self.postMessage({
      ok: true,
      polled: [...first, ...rest].map((r) => text(r.value)).sort(),
      received: got.length,
      code,
      ts,
      scope: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope,
    });
  } catch (e) {
    self.postMessage({ ok: false, error: `${e?.name}: ${e?.message}` });
  }
};
self.postMessage({ ready: true });
