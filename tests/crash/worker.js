'use strict';
// A crash-loop worker on one pond directory, through the Node package:
// the same protocol as tests/crash/worker.py (see docs/CRASH.md).
//
//   node worker.js '{"family": "send", "dir": "...", "seed": 1, "tag": "r1n", ...}'

const fs = require('node:fs');
const path = require('node:path');
const R = require('./records.js');

const { Pond, TopicExists, TopicNotFound, CommitFailed, InvalidArgument, LeaseExpired } = require(path.join(__dirname, '..', '..', 'node'));

const QUEUE_SETTINGS = { subscription: 'workers', ackTimeoutMs: 5000, maxDeliveries: 3, deadLetterTopic: 'jobs.dlq', maxInFlight: 64 };

/**
 * The record's check (R.check), or null once a corrupt one is reported as
 * `BADREC topic partition offset why` through `report`.
 */
function checked(r, topic, report) {
  try {
    return R.check(r);
  } catch (e) {
    if (!(e instanceof R.Corrupt)) throw e;
    report(`BADREC ${topic} ${r.partition} ${r.offset} ${e.message}`);
    return null;
  }
}

/** Writes whole lines to stdout at once (synchronously, no buffering). */
function out(...lines) {
  let buf = Buffer.from(lines.map((l) => l + '\n').join(''));
  while (buf.length > 0) {
    try {
      const n = fs.writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

/** mulberry32: a small seeded PRNG. */
function rngOf(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    random: next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    below: (n) => Math.floor(next() * n),
    choice: (xs) => xs[Math.floor(next() * xs.length)],
    uniform: (lo, hi) => lo + next() * (hi - lo),
  };
}

function size(rng, big = true) {
  const x = rng.random();
  if (x < 0.7 || !big) return rng.int(10, 150);
  if (x < 0.96) return rng.int(150, 3000);
  return rng.int(3000, 20000);
}

function headers(rng) {
  if (rng.random() < 0.5) return [];
  const n = rng.int(1, 3);
  const hs = [];
  for (let i = 0; i < n; i++) hs.push([rng.choice(['a', 'b', 'a', 'trace']), 'h' + rng.below(1000)]);
  return hs;
}

function ensure(pond, name, config) {
  if (!pond.topics().includes(name)) pond.createTopic(name, config);
}

class Worker {
  constructor(cfg) {
    this.cfg = cfg;
    this.rng = rngOf(cfg.seed);
    this.tag = cfg.tag;
    this.seq = 0;
    this.pond = Pond.open(cfg.dir, { durability: cfg.durability ?? 'os' });
  }

  rec(sz, key = null, hs = [], tomb = false) {
    this.seq += 1;
    return R.make(this.tag, this.seq, sz, key, hs, tomb);
  }

  /** send or sendMany of random records; prints and returns the ACKs. */
  sendSome(topic, nMax, { keys = 100, partitions = 1, big = true, extraHeaders = null } = {}) {
    const rng = this.rng;
    const many = rng.random() < 0.55;
    const n = many ? rng.int(1, nMax) : 1;
    const items = [];
    for (let i = 0; i < n; i++) {
      const key = rng.random() < 0.4 ? null : `k${rng.below(keys)}`;
      const part = key === null && rng.random() < 0.3 ? rng.below(partitions) : undefined;
      const hs = headers(rng).concat(extraHeaders ? extraHeaders(rng) : []);
      items.push({ r: this.rec(size(rng, big), key, hs), part });
    }
    let mds;
    if (many) {
      mds = this.pond.sendMany(
        topic,
        items.map(({ r, part }) => {
          const spec = { key: r.key, value: r.value, headers: r.headers };
          if (part !== undefined) spec.partition = part;
          return spec;
        }),
      );
    } else {
      const { r, part } = items[0];
      const opts = { key: r.key, headers: r.headers };
      if (part !== undefined) opts.partition = part;
      mds = [this.pond.send(topic, r.value, opts)];
    }
    const acks = mds.map((m, i) => [m.partition, m.offset, items[i].r.ck]);
    out(...acks.map(([p, o, ck]) => `ACK ${topic} ${p} ${o} ${ck}`));
    return acks;
  }

  // --- families -----------------------------------------------------------

  async send() {
    ensure(this.pond, 'events', { partitions: 4 });
    out('READY');
    const fsync = this.cfg.durability === 'fsync';
    for (let i = 0; ; i++) {
      this.sendSome('events', 25, { partitions: 4 });
      if (!fsync && this.rng.random() < 0.02) this.pond.flush();
      if (i % 64 === 63) await yieldToTimers();
    }
  }

  async queue() {
    const { rng, pond } = this;
    ensure(pond, 'jobs', { partitions: 2 });
    const q = pond.queue('jobs', QUEUE_SETTINGS);
    const poison = (r) => (r.random() < 0.08 ? [['poison', '1']] : []);
    out('READY');
    const drain = this.cfg.mode === 'drain';
    let held = [];
    let idle = 0;
    for (;;) {
      if (!drain && rng.random() < 0.3) this.sendSome('jobs', 5, { partitions: 2, big: false, extraHeaders: poison });
      const ds = await q.receive({ maxMessages: rng.int(1, 10), timeoutMs: drain ? 50 : 10 });
      for (const d of ds) {
        const r = d.record;
        const ck = checked(r, 'jobs', out);
        if (ck === null) continue;
        out(`DLV ${r.partition} ${r.offset} ${d.deliveryCount} ${ck}`);
        const isPoison = r.headers.some(([n]) => n === 'poison');
        const x = rng.random();
        if (isPoison) {
          const delayMs = drain || rng.random() < 0.5 ? 0 : Math.round(rng.uniform(1, 30));
          d.nack({ delayMs });
          out(`NACK ${r.partition} ${r.offset}`);
        } else if (drain || x < 0.5) {
          d.ack();
          out(`QACK ${r.partition} ${r.offset}`);
        } else if (x < 0.7) {
          held.push(d);
        } else if (x < 0.85) {
          d.nack({ delayMs: rng.random() < 0.5 ? 0 : Math.round(rng.uniform(1, 50)) });
          out(`NACK ${r.partition} ${r.offset}`);
        }
        // else: left in flight (its lease ends with the process)
      }
      if (held.length > 0 && (drain || rng.random() < 0.3)) {
        q.ackMany(held);
        out(...held.map((d) => `QACK ${d.record.partition} ${d.record.offset}`));
        held = [];
      }
      if (drain) {
        idle = ds.length === 0 ? idle + 1 : 0;
        if (held.length === 0 && q.backlog() === 0 && q.inFlight() === 0) {
          out(`DONE backlog=0 parked=${q.parked().length}`);
          return;
        }
        if (idle > 400) {
          out(`DONE backlog=${q.backlog()} in_flight=${q.inFlight()} parked=${q.parked().length}`);
          return;
        }
      }
    }
  }

  async group() {
    const { rng, pond } = this;
    ensure(pond, 'stream', { partitions: 3 });
    const cs = {};
    for (const g of ['g1', 'g2']) {
      cs[g] = pond.consumer({ group: g, topics: ['stream'], autoOffsetReset: 'earliest', autoCommit: false });
    }
    for (const g of ['g1', 'g2']) {
      for (let p = 0; p < 3; p++) {
        const com = cs[g].committed('stream', p);
        out(`START ${g} ${p} ${com == null ? '-' : com}`);
      }
    }
    out('READY');
    const nxt = new Map(); // `${g} ${p}` -> next offset
    for (;;) {
      if (rng.random() < 0.5) this.sendSome('stream', 10, { partitions: 3 });
      const g = rng.choice(['g1', 'g2']);
      const c = cs[g];
      const recs = await c.poll({ maxRecords: rng.int(1, 200), timeoutMs: 0 });
      const lines = [];
      for (const r of recs) {
        const ck = checked(r, 'stream', (l) => lines.push(l));
        if (ck === null) continue;
        lines.push(`R ${g} ${r.partition} ${r.offset} ${ck}`);
        nxt.set(`${g} ${r.partition}`, r.offset + 1);
      }
      if (lines.length > 0) out(...lines);
      if (rng.random() < 0.4) {
        const mine = [];
        for (const [k, o] of nxt) {
          const [gg, p] = k.split(' ');
          if (gg === g) mine.push([Number(p), o]);
        }
        if (mine.length === 0) continue;
        if (g === 'g1') {
          c.commit(mine.map(([p, o]) => ({ topic: 'stream', partition: p, offset: o })));
          out(...mine.map(([p, o]) => `COMMIT ${g} ${p} ${o}`));
        } else {
          c.commit();
          out(...mine.map(([p]) => `COMMIT ${g} ${p} ${c.position('stream', p)}`));
        }
      }
    }
  }

  async compact() {
    const { rng, pond } = this;
    ensure(pond, 'kv', { partitions: 2, compact: true, segmentBytes: 4096 });
    ensure(pond, 'ret', { partitions: 1, retentionRecords: 300, segmentBytes: 4096 });
    ensure(pond, 'retb', { partitions: 1, retentionBytes: 20000, segmentBytes: 4096 });
    ensure(pond, 'trim', { partitions: 1, segmentBytes: 4096 });
    out('READY');
    for (let i = 0; ; i++) {
      const x = rng.random();
      if (x < 0.5) {
        const many = rng.random() < 0.5;
        const n = many ? rng.int(1, 12) : 1;
        const items = [];
        for (let j = 0; j < n; j++) {
          const key = `k${rng.below(40)}`;
          items.push(this.rec(rng.int(20, 600), key, headers(rng), rng.random() < 0.08));
        }
        const mds = many
          ? pond.sendMany('kv', items.map((r) => ({ key: r.key, value: r.value, headers: r.headers })))
          : [pond.send('kv', items[0].value, { key: items[0].key, headers: items[0].headers })];
        out(...mds.map((m, j) => `ACK kv ${m.partition} ${m.offset} ${items[j].ck} ${items[j].key}`));
      } else if (x < 0.7) {
        this.sendSome('ret', 10, { big: false });
      } else if (x < 0.85) {
        this.sendSome('retb', 10, { big: false });
      } else if (x < 0.97) {
        this.sendSome('trim', 6, { big: false });
        if (rng.random() < 0.15) {
          const { startOffset, endOffset } = pond.offsets('trim', 0);
          const before = rng.int(startOffset, endOffset);
          pond.deleteRecords('trim', 0, before);
          out(`TRIM 0 ${before}`);
        }
      } else {
        pond.maintain();
        out('MAINTAIN');
      }
      if (i % 64 === 63) await yieldToTimers();
    }
  }

  async topics() {
    const { rng, pond } = this;
    const names = Array.from({ length: 8 }, (_, i) => `t${i}`);
    const subs = ['s0', 's1', 's2'];
    let view = new Map();
    let sv = new Map();
    const reload = () => {
      view = new Map();
      sv = new Map();
      for (const t of pond.topics()) {
        view.set(t, pond.describe(t).partitions.length);
        sv.set(t, new Set(pond.subscriptions(t)));
      }
    };
    reload();
    out('READY');
    for (;;) {
      const x = rng.random();
      const t = rng.choice(names);
      try {
        if (x < 0.25 && !view.has(t)) {
          const n = rng.int(1, 3);
          out(`BEGIN tcreate ${t} ${n}`);
          const segmentBytes = rng.choice([null, 1024, 8192]);
          pond.createTopic(t, segmentBytes == null ? { partitions: n } : { partitions: n, segmentBytes });
          view.set(t, n);
          sv.set(t, new Set());
          out(`TCREATE ${t} ${n}`);
        } else if (x < 0.4 && view.has(t)) {
          out(`BEGIN tdelete ${t}`);
          pond.deleteTopic(t);
          view.delete(t);
          sv.delete(t);
          out(`TDELETE ${t}`);
        } else if (x < 0.75 && view.has(t)) {
          out(`BEGIN send ${t}`);
          this.sendSome(t, 4, { partitions: view.get(t), big: false });
        } else if (x < 0.88 && view.has(t)) {
          const s = rng.choice(subs);
          out(`BEGIN screate ${t} ${s}`);
          const q = pond.queue(t, { subscription: s });
          if (rng.random() < 0.5) {
            for (const d of await q.receive({ maxMessages: 3 })) d.ack();
          }
          q.close();
          sv.get(t).add(s);
          out(`SCREATE ${t} ${s}`);
        } else if (view.has(t) && sv.get(t).size > 0) {
          const s = rng.choice([...sv.get(t)].sort());
          out(`BEGIN sdelete ${t} ${s}`);
          pond.deleteSubscription(t, s);
          sv.get(t).delete(s);
          out(`SDELETE ${t} ${s}`);
        }
      } catch (e) {
        if (!(e instanceof TopicExists || e instanceof TopicNotFound)) throw e;
        // This process is the pond's only user: its view is exact.
        out(`MISMATCH ${e.constructor.name} ${t} ${String(e.message).replace(/\n/g, ' ')}`);
        reload();
      }
    }
  }
}

// --- shared: several processes on one pond at once (see worker.py) ------------

const SHARED_GROUP_TOPICS = ['s0', 's1'];
const SHARED_NEW_TOPICS = 12;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class SharedWorker extends Worker {
  async shared() {
    await this['shared_' + this.cfg.role]();
  }

  async shared_producer() {
    const { rng, pond } = this;
    const parts = new Map();
    const refresh = () => {
      for (const t of pond.topics()) {
        if (!parts.has(t) && t !== 'jobs.dlq') parts.set(t, pond.describe(t).partitions.length);
      }
    };
    refresh();
    // Topic r rolls at almost every batch: a writer killed mid-roll is the
    // hard case. With fsync a writer spends most of its time in there.
    const rShare = this.cfg.durability === 'fsync' ? 0.6 : 0.2;
    out('READY');
    for (let i = 0; ; i++) {
      const x = rng.random();
      if (x < 0.02) {
        const name = `n${rng.below(SHARED_NEW_TOPICS)}`;
        if (!parts.has(name)) {
          const n = rng.int(1, 3);
          out(`BEGIN tcreate ${name} ${n}`);
          const segmentBytes = this.cfg.rolls === false ? null : rng.choice([null, 2048, 8192]);
          try {
            pond.createTopic(name, segmentBytes == null ? { partitions: n } : { partitions: n, segmentBytes });
            out(`TCREATE ${name} ${n}`);
          } catch (e) {
            if (!(e instanceof TopicExists)) throw e;
            out(`TEXISTS ${name}`);
          }
          refresh();
        }
      } else if (x < 0.06) {
        refresh();
      } else {
        const names = [...parts.keys()].sort();
        const y = rng.random();
        const t = y < rShare ? 'r' : y < 0.8 ? rng.choice(['s0', 's1', 'jobs'].concat(names)) : rng.choice(names);
        this.sendSome(t, 25, { partitions: parts.get(t), big: rng.random() < 0.2 });
      }
      if (i % 32 === 31) await yieldToTimers();
    }
  }

  /** Records of about a segment each to topic r: nearly every send rolls it. */
  async shared_roller() {
    const { rng, pond } = this;
    out('READY');
    for (let i = 0; ; i++) {
      const r = this.rec(rng.int(700, 1500), rng.random() < 0.5 ? null : `k${rng.below(100)}`);
      const md = pond.send('r', r.value, { key: r.key, headers: r.headers });
      out(`ACK r ${md.partition} ${md.offset} ${r.ck}`);
      if (i % 32 === 31) await yieldToTimers();
    }
  }

  /** A member of groups g1 and g2 and a worker of queue jobs/workers (see worker.py). */
  async shared_consumer() {
    const { rng, pond } = this;
    const now = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, as Python's time.monotonic_ns()
    out('READY');
    const opts = (group) => ({ group, topics: SHARED_GROUP_TOPICS, autoOffsetReset: 'earliest', autoCommit: false });
    const cs = { g1: pond.consumer(opts('g1')), g2: pond.consumer(opts('g2')) };
    const q = pond.queue('jobs', QUEUE_SETTINGS);
    out(`JOINED ${now()}`);
    const seen = new Map();
    const holds = new Map(); // group -> `${gen} ${t}:${p}` -> [from, to] ns
    const said = new Map();
    const nxt = new Map(); // `${g} ${t} ${p}` -> next offset
    let held = [];
    const settle = (ds, many) => {
      try {
        if (many) q.ackMany(ds);
        else ds[0].ack();
      } catch (e) {
        if (!(e instanceof LeaseExpired)) throw e;
        const msg = String(e.message).replace(/\n/g, ' ');
        const items = ds.map((d) => `${d.record.partition}:${d.record.offset}:${d.deliveryCount}`).join(' ');
        out(`LFAIL ${now()} ${items} -- ${msg}`);
        return;
      }
      const t = now();
      out(...ds.map((d) => `QACK ${d.record.partition} ${d.record.offset} ${d.deliveryCount} ${t}`));
    };
    for (;;) {
      if (rng.random() < 0.6) {
        const g = rng.choice(['g1', 'g2']);
        const c = cs[g];
        const recs = await c.poll({ maxRecords: rng.int(1, 200), timeoutMs: rng.choice([0, 0, 20, 100]) });
        let gen = -1; // (not checked when a rebalance keeps coming between the two reads)
        let mine = [];
        let tA = 0n;
        let tB = 0n;
        for (let i = 0; i < 5; i++) {
          // The generation before and after: no rebalance in between.
          const before = c.generation;
          tA = now();
          mine = c.assignment().map(({ topic, partition }) => `${topic}:${partition}`).sort();
          tB = now();
          if (c.generation === before) {
            gen = before;
            break;
          }
        }
        if (gen >= 0) {
          // Within one generation a member holds a partition over one stretch of time (see worker.py).
          if (!holds.has(g)) holds.set(g, new Map());
          const hold = holds.get(g);
          for (const k of [...hold.keys()]) {
            const [kg, tp] = k.split(' ');
            if (Number(kg) !== gen || !mine.includes(tp)) hold.delete(k);
          }
          for (const tp of mine) {
            const k = `${gen} ${tp}`;
            if (!hold.has(k)) hold.set(k, [tB, tB]);
            hold.get(k)[1] = tA;
          }
          if (tB - (said.get(g) ?? 0n) > 200_000_000n || seen.get(g) !== `${gen} ${mine.join(',')}`) {
            said.set(g, tB);
            const lines = [];
            for (const [k, [from, to]] of hold) {
              const [kg, tp] = k.split(' ');
              const [t, p] = [tp.slice(0, tp.lastIndexOf(':')), tp.slice(tp.lastIndexOf(':') + 1)];
              if (to > from) lines.push(`HELD ${g} ${kg} ${t} ${p} ${from} ${to}`);
            }
            if (lines.length > 0) out(...lines);
          }
        }
        const view = `${gen} ${mine.join(',')}`;
        if (seen.get(g) !== view) {
          // A rebalance: positions of what stays go on; forget the rest.
          seen.set(g, view);
          for (const k of [...nxt.keys()]) if (k.startsWith(g + ' ')) nxt.delete(k);
          out(`ASSIGN ${g} ${gen} ${now()} ${mine.join(',') || '-'}`);
        }
        const lines = [];
        for (const r of recs) {
          const ck = checked(r, r.topic, (l) => lines.push(l));
          if (ck === null) continue;
          lines.push(`R ${g} ${r.topic} ${r.partition} ${r.offset} ${ck}`);
          nxt.set(`${g} ${r.topic} ${r.partition}`, r.offset + 1);
        }
        if (lines.length > 0) out(...lines);
        if (rng.random() < 0.4) {
          const offs = [];
          const mineNow = new Set(c.assignment().map(({ topic, partition }) => `${topic}:${partition}`));
          for (const [k, o] of nxt) {
            const [gg, t, p] = k.split(' ');
            if (gg === g && mineNow.has(`${t}:${p}`)) offs.push([t, Number(p), o]);
          }
          if (offs.length > 0) {
            try {
              if (g === 'g1') {
                c.commit(offs.map(([t, p, o]) => ({ topic: t, partition: p, offset: o })));
                out(...offs.map(([t, p, o]) => `COMMIT ${g} ${t} ${p} ${o}`));
              } else {
                // commit() commits the positions (a partition it lets go is not reported).
                const pos = offs.map(([t, p]) => [t, p, c.position(t, p)]);
                c.commit();
                const kept = new Set(c.assignment().map(({ topic, partition }) => `${topic}:${partition}`));
                out(...pos.filter(([t, p]) => kept.has(`${t}:${p}`)).map(([t, p, o]) => `COMMIT ${g} ${t} ${p} ${o}`));
              }
            } catch (e) {
              // A rebalance (by another process, between two calls) took a partition away.
              if (!(e instanceof CommitFailed || e instanceof InvalidArgument)) throw e;
              out(`CFAIL ${g} ${String(e.message).replace(/\n/g, ' ')}`);
            }
          }
        }
        continue;
      }
      const t0 = now(); // a lease granted by this receive starts after t0
      const ds = await q.receive({ maxMessages: rng.int(1, 10), timeoutMs: rng.choice([0, 20]) });
      const t = now();
      for (const d of ds) {
        const r = d.record;
        const ck = checked(r, 'jobs', out);
        if (ck === null) continue;
        out(`DLV ${r.partition} ${r.offset} ${d.deliveryCount} ${ck} ${t} ${t0}`);
        const x = rng.random();
        if (x < 0.55) {
          settle([d], false);
        } else if (x < 0.75) {
          held.push(d);
        } else if (x < 0.9) {
          try {
            d.nack({ delayMs: rng.random() < 0.5 ? 0 : Math.round(rng.uniform(1, 50)) });
            out(`NACK ${r.partition} ${r.offset} ${d.deliveryCount}`);
          } catch (e) {
            if (!(e instanceof LeaseExpired)) throw e;
            out(`LFAIL ${now()} ${r.partition}:${r.offset}:${d.deliveryCount} -- ${String(e.message).replace(/\n/g, ' ')}`);
          }
        }
        // else: left in flight (its lease ends with the process, or by ackTimeoutMs)
      }
      if (held.length > 0 && rng.random() < 0.3) {
        settle(held, true);
        held = [];
      }
    }
  }

  async shared_reader() {
    const { rng, pond } = this;
    const parts = new Map();
    const nxt = new Map(); // `${t} ${p}` -> next offset
    out('READY');
    for (;;) {
      let progressed = false;
      for (const t of pond.topics()) {
        if (!parts.has(t)) parts.set(t, pond.describe(t).partitions.length);
        for (let p = 0; p < parts.get(t); p++) {
          const k = `${t} ${p}`;
          if (!nxt.has(k)) {
            const { startOffset, endOffset } = pond.offsets(t, p);
            nxt.set(k, rng.int(startOffset, endOffset));
          }
          let o = nxt.get(k);
          const recs = pond.read(t, p, { offset: o, maxRecords: rng.int(1, 500) });
          const cks = [];
          for (const r of recs) {
            if (r.offset !== o) out(`ORDER ${t} ${p} ${r.offset} expected ${o}`);
            try {
              cks.push(R.check(r));
            } catch (e) {
              if (!(e instanceof R.Corrupt)) throw e;
              out(`BADREC ${t} ${p} ${r.offset} ${e.message}`);
              cks.push('?');
            }
            o = r.offset + 1;
          }
          if (recs.length > 0) {
            out(`RB ${t} ${p} ${recs[0].offset} ${cks.join(' ')}`);
            nxt.set(k, o);
            progressed = true;
          }
        }
      }
      await (progressed ? yieldToTimers() : sleep(5));
    }
  }
}

/** Lets timers run (the orphan guard) in loops that never wait otherwise. */
const yieldToTimers = () => new Promise((resolve) => setImmediate(resolve));

/** Exits when the driver is gone (a worker never outlives it). */
function orphanGuard() {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(3);
  }, 200).unref();
}

async function main() {
  orphanGuard();
  const cfg = JSON.parse(process.argv[2]);
  const w = cfg.family === 'shared' ? new SharedWorker(cfg) : new Worker(cfg);
  await w[cfg.family]();
  w.pond.close();
}

main().catch((e) => {
  fs.writeSync(2, `worker.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
