// The Node half of test_live.py: a consumer-group member tails a topic live
// while a Python process writes it. `node node_tail.mjs <pond dir> <count>`
// prints `{"ready":true}` once it has joined, then `{"values":[...]}`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Pond } = require('../../node');

const [path, count] = process.argv.slice(2);
const pond = Pond.open(path);
const consumer = pond.consumer({ group: 'tail', topics: ['live'], autoOffsetReset: 'earliest' });
console.log(JSON.stringify({ ready: true }));
const values = [];
const deadline = Date.now() + 60_000;
while (values.length < Number(count) && Date.now() < deadline) {
  for (const r of await consumer.poll({ timeoutMs: 5_000 })) values.push(r.value.toString('utf8'));
}
consumer.close();
pond.close();
console.log(JSON.stringify({ values }));
