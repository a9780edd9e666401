// A jest test (ESM: run with NODE_OPTIONS=--experimental-vm-modules) of
// code that uses logpond-web.
import 'fake-indexeddb/auto';
import { Pond } from 'logpond-web';

test('a consumer group reads what was sent', async () => {
  const pond = Pond.memory();
  await pond.createTopic('orders', { partitions: 2 });
  await pond.sendMany('orders', [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }]);
  const c = await pond.consumer({ group: 'audit', topics: ['orders'], autoOffsetReset: 'earliest' });
  const got = await c.poll({ maxRecords: 10 });
  expect(got.map((r) => new TextDecoder().decode(r.value)).sort()).toEqual(['one', 'two']);
  await c.close();
  await pond.close();
});
