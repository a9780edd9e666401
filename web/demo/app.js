// The logpond demo: a live broker in the tab. A producer sends orders to a
// 4-partition topic; a consumer group of two members splits the partitions;
// a queue subscription feeds three competing workers. Everything lives in
// IndexedDB: reload the tab and it is all still there.

import { Pond } from '../src/index.js';

const POND = 'logpond-demo';
const TOPIC = 'orders';
const DLQ = 'orders.dlq';
const PARTITIONS = 4;
const COLORS = ['#0ea5e9', '#8b5cf6', '#f59e0b', '#10b981'];
const PRICES = { coffee: 3.2, croissant: 2.8, bagel: 3.5, tea: 2.4, muffin: 3.1, juice: 4.2 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const pond = await Pond.openIndexedDb(POND, {
  onFlushError: (e) => {
    flushError = e;
  },
});
/** @type {Error | null} */
let flushError = null;
let lastSaved = 0;
let running = true;

const fresh = !pond.hasTopic(TOPIC);
// Another tab may create it first.
if (fresh) await pond.createTopic(TOPIC, { partitions: PARTITIONS }).catch((e) => (e.code === 'TOPIC_EXISTS' ? undefined : Promise.reject(e)));

/** @param {string} customer @param {string} item */
function order(customer, item) {
  const price = PRICES[/** @type {keyof typeof PRICES} */ (item)] ?? 3;
  const value = JSON.stringify({ customer, item, total: price.toFixed(2) });
  return pond.send(TOPIC, value, { key: customer, headers: [['source', 'demo']] });
}

const customers = ['ada', 'grace', 'linus', 'margaret', 'alan', 'barbara'];
const items = Object.keys(PRICES);
const pick = (/** @type {string[]} */ xs) => xs[Math.floor(Math.random() * xs.length)];
if (fresh) await Promise.all(Array.from({ length: 12 }, () => order(pick(customers), pick(items))));

/** @param {any} r */
function describe(r) {
  try {
    const o = JSON.parse(decoder.decode(r.value));
    return { customer: o.customer, item: o.item, total: o.total };
  } catch {
    return { customer: r.key ? decoder.decode(r.key) : '–', item: decoder.decode(r.value ?? new Uint8Array()), total: '' };
  }
}

// ---- the consumer group ------------------------------------------------

class Member {
  /** @param {string} name */
  static async create(name) {
    return new Member(name, await pond.consumer({ group: 'billing', topics: [TOPIC], autoOffsetReset: 'earliest', sessionTimeoutMs: 6000 }));
  }

  /** @param {string} name @param {any} consumer */
  constructor(name, consumer) {
    this.name = name;
    this.paused = false;
    /** @type {any[]} */
    this.recent = [];
    /** @type {any} */
    this.current = null;
    this.processed = 0;
    this.seeded = false;
    this.consumer = consumer;
    this.loop();
  }

  async loop() {
    while (running) {
      if (this.paused) {
        await sleep(200);
        continue;
      }
      let records;
      try {
        records = await this.consumer.poll({ maxRecords: 1, timeoutMs: 1000 });
      } catch (e) {
        if (!running) return;
        console.error(e);
        await sleep(500);
        continue;
      }
      this.seed();
      for (const r of records) {
        this.current = r;
        await sleep(380); // "billing" the order
        this.current = null;
        this.recent.unshift(r);
        this.recent.length = Math.min(this.recent.length, 4);
        this.processed++;
        try {
          await this.consumer.commit();
        } catch {
          // revoked meanwhile: the new owner resumes from the last commit
        }
      }
    }
  }

  /** After a reload, show the last records this member's partitions went through. */
  seed() {
    if (this.seeded) return;
    this.seeded = true;
    const seen = [];
    for (const { partition } of this.assignment()) {
      const position = this.position(partition);
      if (position === null || position === 0) continue;
      const from = Math.max(pond.offsets(TOPIC, partition).startOffset, position - 4);
      seen.push(...pond.read(TOPIC, partition, { offset: from, maxRecords: position - from }));
    }
    seen.sort((a, b) => b.timestampMs - a.timestampMs || b.offset - a.offset);
    this.recent = seen.slice(0, 4);
  }

  assignment() {
    try {
      return this.consumer.assignment();
    } catch {
      return [];
    }
  }

  /** @param {number} partition */
  position(partition) {
    try {
      return this.consumer.position(TOPIC, partition);
    } catch {
      return null;
    }
  }
}

const members = await Promise.all(['member A', 'member B'].map((n) => Member.create(n)));

// ---- the queue -----------------------------------------------------------

class Worker {
  /** @param {string} name */
  static async create(name) {
    return new Worker(name, await pond.queue(TOPIC, { subscription: 'shipping', ackTimeoutMs: 8000, maxDeliveries: 3, deadLetterTopic: DLQ, maxInFlight: 1 }));
  }

  /** @param {string} name @param {any} queue */
  constructor(name, queue) {
    this.name = name;
    this.queue = queue;
    /** @type {any} */
    this.delivery = null;
    this.started = 0;
    this.duration = 1;
    this.shipped = 0;
    this.failed = 0;
    /** @type {string | null} */
    this.last = null;
    this.loop();
  }

  async loop() {
    while (running) {
      let got;
      try {
        got = await this.queue.receive({ timeoutMs: 1000 });
      } catch (e) {
        if (!running) return;
        console.error(e);
        await sleep(500);
        continue;
      }
      const d = got[0];
      if (d === undefined) continue;
      this.delivery = d;
      this.started = performance.now();
      this.duration = 700 + Math.random() * 1300;
      await sleep(this.duration);
      if (!running) return;
      try {
        if (Math.random() < 0.1) {
          await d.nack({ delayMs: 1500, reason: 'courier unavailable' });
          this.failed++;
          this.last = 'nacked';
        } else {
          await d.ack();
          this.shipped++;
          this.last = 'shipped';
        }
      } catch {
        this.last = 'lease expired';
      }
      this.delivery = null;
    }
  }
}

const workers = await Promise.all(['worker 1', 'worker 2', 'worker 3'].map((n) => Worker.create(n)));

// ---- rendering -----------------------------------------------------------

/** @param {number} n */
const bytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);

/** @param {any} r @param {string} [extra] */
function recordChip(r, extra = '') {
  const d = describe(r);
  return `<li class="rec ${extra}" style="--c:${COLORS[r.partition]}">
    <span class="off">p${r.partition}·${r.offset}</span>
    <span class="who">${escape(d.customer)}</span>
    <span class="what">${escape(d.item)}</span>
    <span class="amt">${d.total ? `$${escape(d.total)}` : ''}</span>
  </li>`;
}

function renderPartitions() {
  const info = pond.describe(TOPIC).partitions;
  const max = Math.max(10, ...info.map((p) => p.endOffset));
  const committed = members[0].consumer;
  $('partitions').innerHTML = info
    .map((p) => {
      let c = null;
      try {
        c = committed.committed(TOPIC, p.partition);
      } catch {
        // closed
      }
      const pct = (p.endOffset / max) * 100;
      const cpct = c === null ? 0 : (c / max) * 100;
      return `<div class="part" style="--c:${COLORS[p.partition]}">
        <span class="label">p${p.partition}</span>
        <div class="bar"><div class="fill" style="width:${pct}%"></div><div class="done" style="width:${cpct}%"></div><div class="commit" style="left:${cpct}%" title="billing committed ${c ?? '–'}"></div></div>
        <span class="num"><b>${p.endOffset}</b> records</span>
        <span class="num muted">committed ${c ?? '–'}</span>
      </div>`;
    })
    .join('');
}

function renderMembers() {
  $('members').innerHTML = members
    .map((m, i) => {
      const parts = m.assignment();
      let lagTotal = 0;
      const rows = parts
        .map(({ partition }) => {
          const pos = m.position(partition);
          const end = pond.offsets(TOPIC, partition).endOffset;
          const lag = pos === null ? 0 : end - pos;
          lagTotal += lag;
          return `<div class="pos" style="--c:${COLORS[partition]}"><span class="chip">p${partition}</span>
            <span>position <b>${pos ?? '–'}</b></span><span class="lag ${lag > 0 ? 'behind' : ''}">lag ${lag}</span></div>`;
        })
        .join('');
      const state = m.paused ? 'paused' : m.current ? 'busy' : 'idle';
      let memberId = '–';
      try {
        memberId = String(m.consumer.memberId);
      } catch {
        // closed
      }
      return `<div class="member ${state}">
        <div class="member-head">
          <span class="avatar" style="--c:${i === 0 ? '#0ea5e9' : '#8b5cf6'}">${m.name.slice(-1)}</span>
          <div><b>${m.name}</b><span class="meta">member #${memberId} · ${m.processed} billed · lag ${lagTotal}</span></div>
          <button class="small" data-member="${i}">${m.paused ? 'Resume' : 'Pause'}</button>
        </div>
        <div class="positions">${rows || '<div class="empty">no partitions assigned</div>'}</div>
        <ul class="recs">
          ${m.current ? recordChip(m.current, 'now') : ''}
          ${m.recent.map((r) => recordChip(r)).join('')}
        </ul>
      </div>`;
    })
    .join('');
}

function renderQueue() {
  const q = workers[0].queue;
  const backlog = q.backlog();
  const inFlight = q.inFlight();
  const total = pond.describe(TOPIC).partitions.reduce((n, p) => n + p.endOffset, 0);
  const dead = pond.hasTopic(DLQ) ? pond.offsets(DLQ, 0).endOffset : 0;
  $('queue-stats').innerHTML = [
    ['backlog', backlog, 'not yet acked'],
    ['in flight', inFlight, 'leased to a worker'],
    ['shipped', total - backlog, 'acked'],
    ['dead letters', dead, `in ${DLQ}`],
  ]
    .map(([k, v, hint]) => `<div class="stat"><span class="k">${k}</span><b>${v}</b><span class="hint">${hint}</span></div>`)
    .join('');
  const now = performance.now();
  $('workers').innerHTML = workers
    .map((w) => {
      const d = w.delivery;
      const pct = d ? Math.min(100, ((now - w.started) / w.duration) * 100) : 0;
      const job = d
        ? `<div class="job" style="--c:${COLORS[d.record.partition]}">
            ${recordChip(d.record).replace('<li', '<div').replace('</li>', '</div>')}
            ${d.deliveryCount > 1 ? `<span class="retry">try ${d.deliveryCount}</span>` : ''}
            <div class="progress"><div style="width:${pct}%"></div></div>
          </div>`
        : `<div class="job idle">waiting for work…</div>`;
      return `<div class="worker ${d ? 'busy' : ''}">
        <div class="worker-head"><b>${w.name}</b><span class="meta">${w.shipped} shipped · ${w.failed} retried${w.last ? ` · last: ${w.last}` : ''}</span></div>
        ${job}
      </div>`;
    })
    .join('');
}

function renderStatus() {
  const saved = $('saved');
  if (flushError !== null) {
    saved.className = 'pill error';
    saved.innerHTML = `<i class="dot"></i><span>IndexedDB write failed: ${escape(flushError.message)}</span>`;
  } else {
    const ago = performance.now() - lastSaved;
    saved.className = `pill ${ago < 1500 ? 'ok' : ''}`;
    saved.innerHTML = `<i class="dot"></i><span>saved to IndexedDB ${ago < 1000 ? 'just now' : `${Math.round(ago / 1000)} s ago`}</span>`;
  }
  $('size').textContent = `${bytes(pond.memoryBytes())}`;
  $('size').title = `IndexedDB database “logpond:${POND}”, mirrored in memory`;
}

function render() {
  if (!running) return;
  renderPartitions();
  renderMembers();
  renderQueue();
  renderStatus();
}

setInterval(render, 150);
render();

// The flush runs by itself every 50 ms; this one tells the badge when
// everything so far is durable.
setInterval(async () => {
  if (!running) return;
  try {
    await pond.flush();
    lastSaved = performance.now();
    flushError = null;
  } catch (e) {
    flushError = /** @type {Error} */ (e);
  }
}, 400);

// ---- controls ------------------------------------------------------------

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  await order(/** @type {HTMLSelectElement} */ ($('customer')).value, /** @type {HTMLSelectElement} */ ($('item')).value);
  render();
});

$('burst').addEventListener('click', async () => {
  const batch = Array.from({ length: 25 }, () => {
    const customer = pick(customers);
    const item = pick(items);
    const price = PRICES[/** @type {keyof typeof PRICES} */ (item)];
    return { key: customer, value: JSON.stringify({ customer, item, total: price.toFixed(2) }), headers: [['source', 'demo']] };
  });
  await pond.sendMany(TOPIC, batch);
  render();
});

/** @type {ReturnType<typeof setInterval> | undefined} */
let auto;
$('auto').addEventListener('change', (e) => {
  clearInterval(auto);
  if (/** @type {HTMLInputElement} */ (e.target).checked) auto = setInterval(() => order(pick(customers), pick(items)), 500);
});

$('members').addEventListener('click', (e) => {
  const button = /** @type {HTMLElement} */ (e.target).closest('button[data-member]');
  if (button === null) return;
  const m = members[Number(/** @type {HTMLElement} */ (button).dataset.member)];
  m.paused = !m.paused;
  render();
});

$('reset').addEventListener('click', async () => {
  running = false;
  clearInterval(auto);
  await pond.close();
  await Pond.deleteIndexedDb(POND);
  location.reload();
});

/** A ustar archive of the pond's files (extract it into a directory: it is a pond). */
function tar(/** @type {Array<{ name: string, bytes: Uint8Array }>} */ files) {
  const blocks = [];
  for (const { name, bytes: data } of files) {
    const h = new Uint8Array(512);
    const put = (/** @type {string} */ s, /** @type {number} */ at) => h.set(encoder.encode(s), at);
    put(name, 0);
    put('0000644\0', 100);
    put('0000000\0', 108);
    put('0000000\0', 116);
    put(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    put(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
    put('        ', 148);
    put('0', 156);
    put('ustar\0' + '00', 257);
    const sum = h.reduce((a, b) => a + b, 0);
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return new Blob(blocks, { type: 'application/x-tar' });
}

$('export').addEventListener('click', async () => {
  await pond.flush();
  const url = URL.createObjectURL(tar(pond.exportFiles()));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${POND}.tar`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});

// For the tests.
Object.assign(window, {
  demo: {
    pond,
    members,
    workers,
    stats: () => ({
      records: pond.describe(TOPIC).partitions.reduce((n, p) => n + p.endOffset, 0),
      committed: [0, 1, 2, 3].map((p) => members[0].consumer.committed(TOPIC, p)),
      backlog: workers[0].queue.backlog(),
    }),
  },
});
document.body.classList.add('ready');
