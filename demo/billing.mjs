// One member of the Node consumer group 'billing' in `make demo`: it joins,
// bills every order it is assigned while the producer is still writing
// (waking as records arrive), commits after each poll, and when
// <stop file> appears, closes and reports as JSON.
// `node billing.mjs <pond dir> <member name> <stop file>`
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Pond } = require('../node');

const [path, name, stop] = process.argv.slice(2);
const pond = Pond.open(path);
const consumer = pond.consumer({ group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest', autoCommit: false });
const billed = new Set();
let revenue = 0;
console.log(JSON.stringify({ ready: name }));
while (!existsSync(stop)) {
  const records = await consumer.poll({ maxRecords: 20, timeoutMs: 100 });
  for (const r of records) {
    const order = JSON.parse(r.value.toString());
    if (Number.isInteger(order.total)) revenue += order.total;
    billed.add(r.partition);
    console.log(JSON.stringify({ billed: order.order, partition: r.partition, offset: r.offset }));
  }
  consumer.commit();
}
const partitions = consumer.assignment().map((tp) => tp.partition).sort((a, b) => a - b);
const committed = Object.fromEntries(partitions.map((p) => [p, consumer.committed('orders', p)]));
consumer.close();
pond.close();
console.log(JSON.stringify({ done: name, partitions, billedFrom: [...billed].sort(), revenue, committed }));
