'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Pond, ManualClock } = require('logpond');
const { tempDir, str } = require('./helpers.js');

for (const kind of ['memory', 'file']) {
  test(`time retention driven by a ManualClock (${kind})`, (t) => {
    const clock = new ManualClock(1_000_000);
    const pond = kind === 'memory' ? Pond.memory({ clock }) : Pond.open(tempDir(t), { clock });
    pond.createTopic('events', { retentionMs: 60_000, segmentBytes: 256 });
    // Old records, several segments' worth.
    pond.sendMany('events', Array.from({ length: 10 }, (_, i) => `old-${i}-${'x'.repeat(40)}`));
    pond.sendMany('events', Array.from({ length: 10 }, (_, i) => `old-${i + 10}-${'x'.repeat(40)}`));
    clock.advance(30_000);
    pond.sendMany('events', Array.from({ length: 10 }, (_, i) => `new-${i}-${'x'.repeat(40)}`));
    const before = pond.describe('events').partitions[0];
    assert.equal(before.startOffset, 0);
    assert.equal(before.endOffset, 30);

    pond.maintain(); // nothing is old enough yet
    assert.equal(pond.describe('events').partitions[0].startOffset, 0);

    clock.advance(31_000); // the first batch is now 61 s old, the last 31 s
    pond.maintain();
    const after = pond.describe('events').partitions[0];
    // Each batch outgrows segmentBytes, so each is a segment of its own:
    // the two old ones went, the young one stays.
    assert.equal(after.startOffset, 20);
    assert.ok(after.bytes < before.bytes, 'segments were freed');
    assert.equal(after.endOffset, 30);
    const rs = pond.read('events', 0, { maxRecords: 100 });
    assert.equal(rs[0].offset, after.startOffset);
    assert.equal(rs[rs.length - 1].offset, 29);
    assert.ok(rs.every((r) => !str(r.value).startsWith('old-') || r.offset >= after.startOffset));
    assert.throws(() => pond.read('events', 0, { offset: 0 }), { code: 'OFFSET_OUT_OF_RANGE' });

    clock.advance(10 * 60_000); // everything expired: the active segment is kept all the same
    pond.maintain();
    assert.deepEqual(pond.offsets('events', 0), { startOffset: 20, endOffset: 30 });
    // Offsets keep counting after retention.
    assert.equal(pond.send('events', 'later').offset, 30);
    pond.close();
  });
}

test('record-count and byte retention apply as records arrive', () => {
  const pond = Pond.memory();
  pond.createTopic('counted', { retentionRecords: 50, segmentBytes: 512 });
  pond.createTopic('sized', { retentionBytes: 2048, segmentBytes: 512 });
  for (let i = 0; i < 300; i++) {
    pond.send('counted', `record-${i}`);
    pond.send('sized', `record-${i}`);
  }
  const counted = pond.describe('counted').partitions[0];
  assert.ok(counted.startOffset > 0);
  assert.ok(counted.endOffset - counted.startOffset >= 50, 'at least the retained count is kept');
  assert.ok(counted.endOffset - counted.startOffset < 150, 'old segments went');
  const sized = pond.describe('sized').partitions[0];
  assert.ok(sized.startOffset > 0);
  assert.ok(sized.bytes <= 2048 + 512, `about retentionBytes kept (${sized.bytes})`);
  pond.close();
});
