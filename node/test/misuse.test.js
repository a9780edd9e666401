'use strict';
// Abuse in a fresh process, with unhandled rejections fatal and forced
// garbage collection: ponds closed under pending waits, subscriptions and
// loops; consumers and queues dropped while their waits run on the thread
// pool; handlers that throw non-errors; an onError that throws. The
// process must end normally, with nothing unhandled.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const script = `
const { Pond } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = [];
(async () => {
  // 1. Pending waits of every kind when the pond closes.
  const pond = Pond.memory();
  pond.createTopic('t', { partitions: 2 });
  const c = pond.consumer({ group: 'g', topics: ['t'] });
  const q = pond.queue('t', { subscription: 's' });
  const polls = [c.poll({ timeoutMs: 10_000 }), c.poll({ timeoutMs: Infinity })];
  const receives = [q.receive({ timeoutMs: 10_000 }), q.receive({ maxMessages: 5, timeoutMs: Infinity })];
  const loops = [(async () => { for await (const r of c) out.push(r); })(), (async () => { for await (const d of q) d.ack(); })()];
  const sub = q.subscribe(() => { throw 'not an Error'; }, { concurrency: 4, onError: () => { throw new Error('onError fails too'); } });
  pond.send('t', 'x');
  await sleep(50);
  pond.close();
  const settled = await Promise.allSettled([...polls, ...receives, ...loops, sub.done]);
  out.push(settled.map((s) => s.status === 'fulfilled' ? 'ok' : s.reason.code).join(','));
  c.close(); q.close(); await sub.stop(); pond.close();

  // 2. Consumers and queues dropped (unreferenced) while their waits run.
  const p2 = Pond.memory();
  p2.createTopic('t');
  for (let i = 0; i < 20; i++) {
    p2.consumer({ group: 'g' + i, topics: ['t'] }).poll({ timeoutMs: 150 }).catch(() => {});
    p2.queue('t', { subscription: 's' + i }).receive({ timeoutMs: 150 }).catch(() => {});
  }
  for (let i = 0; i < 5; i++) { global.gc(); await sleep(60); }
  p2.send('t', 'y');
  await sleep(200);
  global.gc();
  p2.close();

  // 3. Calls after close, in every order; double closes.
  const p3 = Pond.memory();
  p3.createTopic('t');
  const c3 = p3.consumer({ group: 'g', topics: ['t'] });
  const q3 = p3.queue('t', { subscription: 's' });
  p3.send('t', 'z');
  const [d] = await q3.receive();
  q3.close(); q3.close();
  try { d.ack(); } catch (e) { out.push(e.code); }
  p3.close();
  try { c3.commit(); } catch (e) { out.push(e.code); }
  c3.close(); c3.close();
  await c3.poll().catch((e) => out.push(e.code));
  console.log(JSON.stringify(out));
})();
`;

test('misuse never crashes the process', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'abuse.js');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--expose-gc', '--unhandled-rejections=strict', file], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  // Every wait ended: the polls and receives resolved (one of them may
  // have got the record) or rejected with Closed; the loops and the
  // subscription ended normally.
  const statuses = out[out.length - 4].split(',');
  assert.equal(statuses.length, 7);
  assert.ok(statuses.slice(0, 4).every((s) => s === 'ok' || s === 'CLOSED'), statuses.join());
  assert.deepEqual(statuses.slice(4), ['ok', 'ok', 'ok']);
  assert.deepEqual(out.slice(-3), ['CLOSED', 'CLOSED', 'CLOSED']);
});
