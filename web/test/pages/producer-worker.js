// A dedicated worker that sends to a shared IndexedDB pond (tabs.test.mjs):
// on { name, topic, tag, n }, sends `tag:0` .. `tag:n-1` one at a time and
// replies with the offsets its sends got.

import { Pond } from '/src/index.js';

self.onmessage = async (e) => {
  const { name, topic, tag, n } = e.data;
  try {
    const pond = await Pond.openIndexedDb(name);
    const offsets = [];
    for (let i = 0; i < n; i++) offsets.push((await pond.send(topic, `${tag}:${i}`)).offset);
    await pond.close();
    self.postMessage({ offsets });
  } catch (err) {
    self.postMessage({ error: `${err?.name}: ${err?.message}` });
  }
};
self.postMessage({ ready: true });
