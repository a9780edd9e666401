// A vitest test of code that uses logpond-web: a memory pond per test,
// and an IndexedDB pond through fake-indexeddb (Node has no IndexedDB).
import 'fake-indexeddb/auto';
import { test, expect } from 'vitest';
import { Pond, ManualClock } from 'logpond-web';

test('a queue worker acks what it handled and retries the rest', async () => {
  const clock = new ManualClock(0);
  const pond = Pond.memory({ clock });
  await pond.createTopic('orders');
  await pond.sendMany('orders', ['ok', 'broken']);
  const q = await pond.queue('orders', { subscription: 'billing', retryBackoffMs: [1000, 60_000] });
  for (const d of await q.receive({ maxMessages: 10 })) {
    if (new TextDecoder().decode(d.record.value) === 'ok') await d.ack();
    else await d.nack();
  }
  expect(await q.receive()).toEqual([]);
  clock.advance(1000);
  const [again] = await q.receive();
  expect(again.deliveryCount).toBe(2);
  await pond.close();
});

test('an IndexedDB pond keeps its records across a reopen', async () => {
  const pond = await Pond.openIndexedDb('shop');
  await pond.createTopic('orders');
  await pond.send('orders', 'kept');
  await pond.close();
  const again = await Pond.openIndexedDb('shop');
  expect(again.read('orders', 0).map((r) => new TextDecoder().decode(r.value))).toEqual(['kept']);
  await again.close();
});
