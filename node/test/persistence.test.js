'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Pond, ManualClock } = require('logpond');
const { tempDir } = require('./helpers.js');

function snapshot(pond) {
  const out = {};
  for (const topic of pond.topics()) {
    const info = pond.describe(topic);
    out[topic] = {
      config: info.config,
      partitions: info.partitions.map((p) => ({
        ...p,
        records: pond.read(topic, p.partition, { maxRecords: 100_000 }).map((r) => ({
          ...r,
          key: r.key === null ? null : r.key.toString('base64'),
          value: r.value === null ? null : r.value.toString('base64'),
          headers: r.headers.map(([n, v]) => [n, v.toString('base64')]),
        })),
      })),
    };
  }
  return out;
}

for (const durability of ['os', 'fsync']) {
  test(`a pond written from Node reads back identical after reopening (${durability})`, (t) => {
    const dir = tempDir(t);
    const clock = new ManualClock(1_700_000_000_000);
    const pond = Pond.open(dir, { durability, clock });
    pond.createTopic('orders', { partitions: 3, segmentBytes: 1024, retentionMs: 86_400_000 });
    pond.createTopic('state', { compact: true });
    for (let i = 0; i < 200; i++) {
      clock.advance(10);
      pond.send('orders', `order ${i} ✓`, {
        key: `customer-${i % 7}`,
        headers: i % 3 === 0 ? [['trace', Buffer.from([i & 255, 0, 255])], ['n', String(i)]] : undefined,
      });
    }
    pond.sendMany('orders', [
      { value: null, key: 'gone', partition: 1 },
      { value: Buffer.alloc(0), partition: 2, timestampMs: 5 },
      { value: new Uint8Array([0, 0, 0]), partition: 0 },
    ]);
    pond.send('state', 'v1', { key: 'a' });
    pond.send('state', 'v2', { key: 'a' });
    pond.send('state', null, { key: 'b' });
    pond.deleteRecords('orders', 0, 3);
    pond.flush();
    const before = snapshot(pond);
    pond.close();

    const again = Pond.open(dir, { durability, clock });
    const after = snapshot(again);
    assert.deepEqual(after, before);
    assert.equal(after.orders.partitions[0].startOffset, 3);
    // And it keeps going where it was.
    const md = again.send('orders', 'next', { partition: 1 });
    assert.equal(md.offset, before.orders.partitions[1].endOffset);
    again.close();

    const third = Pond.open(dir);
    assert.deepEqual(third.topics(), ['orders', 'state']);
    assert.equal(third.read('orders', 1, { offset: md.offset })[0].value.toString(), 'next');
    third.close();
  });
}

test('a deleted topic stays deleted after reopening', (t) => {
  const dir = tempDir(t);
  const pond = Pond.open(dir);
  pond.createTopic('keep');
  pond.createTopic('drop');
  pond.send('drop', 'x');
  pond.deleteTopic('drop');
  pond.close();
  const again = Pond.open(new URL(`file://${dir}`)); // a file: URL works as a path
  assert.deepEqual(again.topics(), ['keep']);
  again.close();
});
