'use strict';
// Throughput of the Node binding: `node bench.js [filter]` prints one line
// per case, e.g. `node_sendMany_100B_memory: 2.10M records/s`. Each case
// warms up, then runs ROUNDS rounds of about BENCH_SECONDS / ROUNDS each
// (default 1 s in all) and reports the best round: on a shared machine the
// best round is the one least disturbed by other work. Consumption cases
// (poll, for await, queue receive + ack) time rounds over a prepared
// backlog of CONSUME records instead.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pond } = require('./index.js');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = 4;
const VALUE = Buffer.alloc(100, 'x');
const BATCH = 1000;
/** Producer cases keep a bounded log (retention frees old segments as they go), so
 * a long run measures sending, not a memory pond growing to gigabytes. */
const BOUNDED = { retentionBytes: 64 * 1024 * 1024, segmentBytes: 8 * 1024 * 1024 };
const READ_BATCH = 500;
/** Records per round of the consumption cases. */
const CONSUME = Number(process.env.BENCH_CONSUME ?? 200_000);
const QUEUE_BATCH = 100;

function rate(perSec) {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M` : `${(perSec / 1e3).toFixed(1)}k`;
}

/** Runs `step` (which returns how many records it handled) in timed rounds; the best rate. */
function measure(step) {
  const warm = process.hrtime.bigint() + 200_000_000n;
  while (process.hrtime.bigint() < warm) step();
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round((SECONDS / ROUNDS) * 1e9));
    let now = start;
    while (now < end) {
      for (let i = 0; i < 16; i++) n += step();
      now = process.hrtime.bigint();
    }
    best = Math.max(best, (n * 1e9) / Number(now - start));
  }
  return rate(best);
}

/**
 * Times `run` (async; returns how many records it consumed) after an
 * untimed `prepare` (which sets up a backlog), a warm-up round and ROUNDS
 * timed rounds; the best rate.
 */
async function measureRounds(prepare, run) {
  await prepare();
  await run();
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    await prepare();
    const start = process.hrtime.bigint();
    const n = await run();
    best = Math.max(best, (n * 1e9) / Number(process.hrtime.bigint() - start));
  }
  return rate(best);
}

async function withPondAsync(kind, fn) {
  if (kind === 'memory') {
    const pond = Pond.memory();
    try {
      return await fn(pond);
    } finally {
      pond.close();
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logpond-bench-'));
  const pond = Pond.open(dir);
  try {
    return await fn(pond);
  } finally {
    pond.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A topic of `partitions` partitions holding CONSUME records of 100 bytes. @param {Pond} pond */
function fill(pond, partitions = 1) {
  pond.createTopic('bench', { partitions });
  const batch = new Array(BATCH).fill(VALUE);
  for (let i = 0; i < CONSUME; i += BATCH) pond.sendMany('bench', batch);
}

function withPond(kind, fn) {
  if (kind === 'memory') {
    const pond = Pond.memory();
    try {
      return fn(pond);
    } finally {
      pond.close();
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logpond-bench-'));
  const pond = Pond.open(dir);
  try {
    return fn(pond);
  } finally {
    pond.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const cases = [];
for (const kind of ['memory', 'file']) {
  cases.push([
    `node_send_100B_${kind}`,
    () =>
      withPond(kind, (pond) => {
        pond.createTopic('bench', BOUNDED);
        return measure(() => {
          pond.send('bench', VALUE);
          return 1;
        });
      }),
  ]);
  cases.push([
    `node_sendMany_100B_${kind}`,
    () =>
      withPond(kind, (pond) => {
        pond.createTopic('bench', BOUNDED);
        const batch = new Array(BATCH).fill(VALUE);
        return measure(() => pond.sendMany('bench', batch).length);
      }),
  ]);
  cases.push([
    `node_read_100B_${kind}`,
    () =>
      withPond(kind, (pond) => {
        pond.createTopic('bench');
        const batch = new Array(BATCH).fill(VALUE);
        for (let i = 0; i < 200; i++) pond.sendMany('bench', batch);
        const end = pond.offsets('bench', 0).endOffset;
        let offset = 0;
        return measure(() => {
          if (offset >= end) offset = 0;
          const records = pond.read('bench', 0, { offset, maxRecords: READ_BATCH });
          offset = records[records.length - 1].offset + 1;
          return records.length;
        });
      }),
  ]);
}

for (const kind of ['memory', 'file']) {
  cases.push([
    `node_poll500_100B_${kind}`,
    () =>
      withPondAsync(kind, (pond) => {
        fill(pond);
        const c = pond.consumer({ group: 'bench', topics: ['bench'], autoOffsetReset: 'earliest' });
        return measureRounds(
          () => c.seekToBeginning(),
          async () => {
            let n = 0;
            for (;;) {
              const records = await c.poll({ maxRecords: READ_BATCH });
              if (records.length === 0) return n;
              n += records.length;
            }
          },
        );
      }),
  ]);
  cases.push([
    `node_forAwait_100B_${kind}`,
    () =>
      withPondAsync(kind, (pond) => {
        fill(pond);
        const c = pond.consumer({ group: 'bench', topics: ['bench'], autoOffsetReset: 'earliest' });
        return measureRounds(
          () => c.seekToBeginning(),
          async () => {
            let n = 0;
            for await (const r of c) {
              n++;
              if (r.offset === CONSUME - 1) break;
            }
            return n;
          },
        );
      }),
  ]);
  cases.push([
    `node_queue_receive100_ackMany_100B_${kind}`,
    () =>
      withPondAsync(kind, (pond) => {
        pond.createTopic('bench');
        const q = pond.queue('bench', { subscription: 'bench', maxInFlight: QUEUE_BATCH });
        const batch = new Array(BATCH).fill(VALUE);
        return measureRounds(
          () => {
            for (let i = 0; i < CONSUME / 4; i += BATCH) pond.sendMany('bench', batch);
          },
          async () => {
            let n = 0;
            for (;;) {
              const got = await q.receive({ maxMessages: QUEUE_BATCH });
              if (got.length === 0) return n;
              q.ackMany(got);
              n += got.length;
            }
          },
        );
      }),
  ]);
}

(async () => {
  const only = process.argv[2];
  for (const [name, run] of cases) {
    if (only && !name.includes(only)) continue;
    console.log(`${name}: ${await run()} records/s`);
  }
})();
