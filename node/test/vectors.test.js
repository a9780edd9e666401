'use strict';
// Reads the on-disk test vectors (tests/vectors, described in its README):
// ponds written by the Rust writer must read back, from Node, exactly as
// expected.json says: every record, the committed offsets of consumer
// groups (`committed`, read through a consumer of each group) and the
// state of queue subscriptions (`queues`: the backlog, and what a fresh
// consumer receives first).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pond } = require('logpond');
const { tempDir } = require('./helpers.js');

const root = path.resolve(__dirname, '..', '..', 'tests', 'vectors');
const vectors = fs
  .readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, d.name, 'expected.json')))
  .map((d) => d.name)
  .sort();

const text = (b) => (b === null ? null : b.toString('utf8'));

test('the vectors are there', () => {
  assert.ok(vectors.includes('basic') && vectors.length >= 3, `found ${vectors.join(', ')}`);
});

test('the vectors cover groups and queues', () => {
  const all = vectors.map((n) => JSON.parse(fs.readFileSync(path.join(root, n, 'expected.json'), 'utf8')));
  assert.ok(all.some((e) => e.committed !== undefined));
  assert.ok(all.some((e) => e.queues !== undefined));
});

for (const name of vectors) {
  test(`vector ${name} reads back as expected`, async (t) => {
    const expected = JSON.parse(fs.readFileSync(path.join(root, name, 'expected.json'), 'utf8'));
    // Opening takes the directory's lock and closing may write: use a copy.
    const dir = path.join(tempDir(t), 'pond');
    fs.cpSync(path.join(root, name, 'pond'), dir, { recursive: true });
    const pond = Pond.open(dir);
    try {
      assert.deepEqual(pond.topics(), Object.keys(expected.topics).sort());
      for (const [topic, partitions] of Object.entries(expected.topics)) {
        assert.equal(pond.describe(topic).partitions.length, partitions.length, topic);
        for (const p of partitions) {
          const where = `${name} ${topic}/${p.partition}`;
          assert.deepEqual(
            pond.offsets(topic, p.partition),
            { startOffset: p.start_offset ?? 0, endOffset: p.end_offset },
            where,
          );
          const records = [];
          let offset = pond.offsets(topic, p.partition).startOffset;
          for (;;) {
            const batch = pond.read(topic, p.partition, { offset, maxRecords: 7 });
            if (batch.length === 0) break;
            records.push(...batch);
            offset = batch[batch.length - 1].offset + 1;
          }
          assert.deepEqual(
            records.map((r) => ({
              offset: r.offset,
              timestamp_ms: r.timestampMs,
              key: text(r.key),
              value: text(r.value),
              headers: r.headers.map(([n, v]) => [n, text(v)]),
            })),
            p.records.map((r) => ({
              offset: r.offset,
              timestamp_ms: r.timestamp_ms,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
            where,
          );
        }
      }
      for (const [group, topics] of Object.entries(expected.committed ?? {})) {
        for (const [topic, offsets] of Object.entries(topics)) {
          const c = pond.consumer({ group, topics: [topic] });
          try {
            assert.deepEqual(
              offsets.map((_, p) => c.committed(topic, p)),
              offsets,
              `${name}: committed offsets of group ${group} on ${topic}`,
            );
          } finally {
            c.close();
          }
        }
      }
      for (const [topic, subscriptions] of Object.entries(expected.queues ?? {})) {
        for (const [subscription, want] of Object.entries(subscriptions)) {
          const q = pond.queue(topic, { subscription });
          try {
            const where = `${name}: subscription ${subscription} of ${topic}`;
            assert.deepEqual(pond.subscriptions(topic), Object.keys(subscriptions).sort(), where);
            assert.equal(q.backlog(), want.backlog, where);
            const got = await q.receive({ maxMessages: 100 });
            assert.deepEqual(
              got.map((d) => ({ offset: d.record.offset, delivery_count: d.deliveryCount })),
              want.deliverable,
              where,
            );
          } finally {
            q.close();
          }
        }
      }
    } finally {
      pond.close();
    }
  });
}
