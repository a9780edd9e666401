// The Node half of the cross-runtime round trips (driven by
// test_roundtrip.py): `node node_step.mjs <step> <pond dir>` prints JSON.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Pond } = require('../../node');

const [step, path] = process.argv.slice(2);
const pond = Pond.open(path);
const text = (b) => (b === null ? null : b.toString('utf8'));
const plain = (r) => ({
  partition: r.partition,
  offset: r.offset,
  timestampMs: r.timestampMs,
  key: text(r.key),
  value: text(r.value),
  headers: r.headers.map(([n, v]) => [n, text(v)]),
});

let out;
if (step === 'read-and-append') {
  // Read everything Python wrote, then append records of our own.
  const records = [];
  for (const p of pond.describe('events').partitions) {
    records.push(...pond.read('events', p.partition, { offset: p.startOffset, maxRecords: 10000 }).map(plain));
  }
  const sent = pond.sendMany('events', [
    { key: 'node', value: 'from node 1', headers: [['runtime', 'node']] },
    { key: 'node', value: 'from node 2', headers: [['runtime', 'node']] },
  ]);
  out = { records, sent: sent.map(({ partition, offset }) => ({ partition, offset })) };
} else if (step === 'resume-group') {
  // Resume group 'shared' from the offsets Python committed.
  const c = pond.consumer({ group: 'shared', topics: ['events'], autoOffsetReset: 'none', autoCommit: false });
  const records = [];
  for (;;) {
    const batch = await c.poll({ maxRecords: 100, timeoutMs: 0 });
    if (batch.length === 0) break;
    records.push(...batch.map(plain));
  }
  c.close();
  out = { records };
} else {
  throw new Error(`unknown step ${step}`);
}
pond.close();
console.log(JSON.stringify(out));
