// Step 2 of `make demo`: a Node consumer group of two members splits the
// partitions of 'orders', bills every order, commits, and reports as JSON.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Pond } = require('../node');

const path = process.argv[2];
const pond = Pond.open(path);
const members = ['billing-a', 'billing-b'].map((name) => ({
  name,
  consumer: pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false }),
  records: 0,
  revenue: 0,
}));

const partitionsOf = (consumer) =>
  consumer.assignment().map((tp) => (Array.isArray(tp) ? tp[1] : tp.partition)).sort((a, b) => a - b);

for (const m of members) m.partitions = partitionsOf(m.consumer);

// Both members poll in turn until neither gets anything.
let busy = true;
while (busy) {
  busy = false;
  for (const m of members) {
    const records = await m.consumer.poll({ maxRecords: 20, timeoutMs: 0 });
    for (const r of records) {
      const order = JSON.parse(r.value.toString());
      m.records += 1;
      if (Number.isInteger(order.total)) m.revenue += order.total;
    }
    if (records.length > 0) busy = true;
    m.consumer.commit();
  }
}

const committed = {};
for (const m of members) {
  for (const p of m.partitions) committed[p] = m.consumer.committed('orders', p);
}
for (const m of members) m.consumer.close();
pond.close();
console.log(JSON.stringify({
  members: members.map(({ name, partitions, records, revenue }) => ({ name, partitions, records, revenue })),
  committed,
}));
