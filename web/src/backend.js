// What the shared JS layer (src/shared/, copied from the repository's js/)
// needs from the browser: the wasm module, record bytes as Uint8Arrays,
// writes through the pond's Writer (writer.js: on IndexedDB, in a write
// transaction shared with other tabs; every writing call returns a
// Promise), and waiting on the pond's hub (waiters.js) instead of
// threads. Every wasm call is synchronous; a wait re-runs its attempt
// when the hub says something may have changed.

import { WasmClock, errorKinds as kinds, topicOptions } from './wasm.js';

/** Record bytes: views of what a wasm call returned. */
export const Bytes = Uint8Array;

/** What values and keys may be, for messages. */
export const BYTES = 'Uint8Array, ArrayBuffer, typed array';

/** Other views of bytes a browser page holds: ArrayBuffers and typed arrays. @param {unknown} v */
export function asBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

const encoder = new TextEncoder();

/** Writes `s` as utf-8 into `buf` at `at` (room checked); returns the length. */
export function utf8Write(/** @type {Uint8Array} */ buf, /** @type {string} */ s, /** @type {number} */ at) {
  return encoder.encodeInto(s, buf.subarray(at)).written;
}

export const NativeClock = WasmClock;
export { topicOptions };
export const errorKinds = () => /** @type {Array<[string, string]>} */ (kinds());

/** Lets the event loop turn. */
export function turn() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Reports a failure nobody awaits (a subscription's, without onError). @param {unknown} e */
export function report(e) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else console.error(e);
}

/** An error carrying a core code (the shared layer maps it to its class). @param {string} code @param {string} message */
function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

/** A sealed packer's numbers and bytes, copied (it goes back to its pool when the calling method returns). @param {any} packer */
const copied = (packer) => [packer.meta.slice(0, packer.m), packer.data.slice(0, packer.pos)];

/** What a wait that found nothing resolves with: no records. @type {[Uint8Array, Float64Array]} */
const NOTHING = [new Uint8Array(0), new Float64Array(0)];

/** @param {[Uint8Array, Float64Array]} packed */
const found = (packed) => (packed[1].length > 0 ? packed : null);

/**
 * The methods `names` of a wasm object, called on it.
 * @param {any} w @param {string[]} names @returns {Record<string, (...args: any[]) => any>}
 */
const methods = (w, names) => Object.fromEntries(names.map((n) => [n, (/** @type {any[]} */ ...args) => w[n](...args)]));

/**
 * The backend of one pond (see the shared pond.js) over its wasm pond, its
 * wait hub and its writer.
 * @param {any} w @param {import('./waiters.js').Hub} hub @param {import('./writer.js').Writer} writer
 */
export function pondBackend(w, hub, writer) {
  return {
    ...methods(w, ['isClosed', 'createTopic', 'topics', 'hasTopic', 'describe', 'deleteTopic', 'read', 'offsets', 'groups', 'describeGroup']),
    ...methods(w, ['offsetForTime', 'deleteRecords', 'maintain', 'subscriptions', 'deleteSubscription']),
    describeSubscription: (/** @type {string} */ t, /** @type {string} */ s) => w.describeSubscription(t, s),
    updateSubscription: (/** @type {any[]} */ ...args) => w.updateSubscription(...args),
    /** Every call that changes the pond runs here; it resolves once written. */
    write: (/** @type {() => unknown} */ f, /** @type {boolean} */ wake) => writer.run(f, wake),
    changed: () => {},
    /** A memory pond sends at once, from the packer itself; a transaction later needs a copy. */
    send(/** @type {any} */ packer) {
      if (writer.direct) return writer.run(() => w.sendPacked(packer.meta.subarray(0, packer.m), packer.data.subarray(0, packer.pos)));
      const [meta, data] = copied(packer);
      return writer.run(() => w.sendPacked(meta, data));
    },
    /** Re-attempted whenever the pond changes (an ack makes room); a refused attempt changes nothing, so wakes nobody. */
    sendWait(/** @type {any} */ packer, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) {
      const [meta, data] = copied(packer);
      /** @type {unknown} */
      let refused;
      const attempt = () =>
        writer.run(() => {
          try {
            const sent = w.sendPacked(meta, data);
            hub.wake();
            return sent;
          } catch (e) {
            if (/** @type {any} */ (e)?.code !== 'BACKPRESSURE') throw e;
            refused = e;
            return null;
          }
        }, false);
      return hub.wait(attempt, stopped, timeoutMs).then((sent) => {
        if (sent !== null) return sent;
        throw w.isClosed() ? coded('CLOSED', 'pond is closed') : refused;
      });
    },
    consumer: (/** @type {any} */ o) =>
      consumerBackend(
        w.consumer(o.group, o.topics, o.autoOffsetReset, o.autoCommit, o.autoCommitIntervalMs, o.sessionTimeoutMs, o.assignor),
        hub,
        writer,
      ),
    queue: (/** @type {string} */ topic, /** @type {any} */ o) =>
      queueBackend(
        w.queue(topic, o.subscription, o.ackTimeoutMs, o.maxDeliveries, o.deadLetterTopic, o.retryBackoffMs, o.maxInFlight, o.startAtEnd),
        hub,
        writer,
      ),
  };
}

/**
 * The backend of one consumer. A waiting poll is re-attempted on the
 * hub's wakes and on the consumer's heartbeat interval (so a waiting
 * member stays in its group: the core says how often); each attempt is a
 * write (a poll may join, heartbeat, commit).
 * @param {any} c @param {import('./waiters.js').Hub} hub @param {import('./writer.js').Writer} writer
 */
function consumerBackend(c, hub, writer) {
  const heartbeatMs = Math.max(10, c.heartbeatIntervalMs());
  /** The group generation last seen: a change means a rebalance, which may give other members work. */
  let generation = -1;
  /** Runs a fetch as a write; a new generation wakes the other waiters. @param {() => any} f */
  const fetch = (f) =>
    writer.run(() => {
      const packed = f();
      let g = generation;
      try {
        g = c.generation();
      } catch {
        // closed meanwhile
      }
      if (g !== generation) {
        generation = g;
        hub.wake();
      }
      return found(packed);
    }, false);
  /** @param {[string[], Uint32Array, Float64Array]} a */
  const rows = ([topics, partitions, values]) =>
    topics.map((topic, i) => ({ topic, partition: partitions[i], value: values[i] }));
  return {
    poll: (/** @type {number} */ max, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) =>
      hub.wait(() => fetch(() => c.poll(max)), stopped, timeoutMs, heartbeatMs).then((r) => r ?? NOTHING),
    /** The record there is now, without waiting; between write transactions only one already fetched (else null: iteration waits). */
    next: () => found(writer.direct ? c.nextRecord() : c.nextBuffered()),
    nextWait: (/** @type {() => boolean} */ stopped) =>
      hub.wait(() => fetch(() => c.nextRecord()), stopped, Infinity, heartbeatMs).then((r) => r ?? NOTHING),
    ...methods(c, ['commit', 'committed', 'position', 'seek', 'seekToBeginning', 'seekToEnd', 'seekToTime', 'skipDamaged', 'close']),
    commitOffsets: (/** @type {string[]} */ t, /** @type {number[]} */ p, /** @type {number[]} */ o) =>
      c.commitOffsets(t, Float64Array.from(p), Float64Array.from(o)),
    assignment: () => rows(c.assignment()).map(({ topic, partition }) => ({ topic, partition })),
    lag: () => rows(c.lag()).map(({ topic, partition, value }) => ({ topic, partition, lag: value })),
    member: () => [c.memberId(), c.generation()],
  };
}

/**
 * The backend of one queue consumer. The hub wakes waiting receives when a
 * record of the subscription falls due (a lease expiring, a nack delay or
 * backoff ending): it asks the core when (`nextDueMs`). Each receive
 * attempt is a write (it leases).
 * @param {any} q @param {import('./waiters.js').Hub} hub @param {import('./writer.js').Writer} writer
 */
function queueBackend(q, hub, writer) {
  const unregister = hub.dueFrom(() => q.nextDueMs());
  /** @param {number} max */
  const attempt = (max) =>
    writer.run(() => {
      try {
        return found(q.receive(max));
      } finally {
        hub.dueChanged();
      }
    }, false);
  return {
    receive: (/** @type {number} */ max, /** @type {number} */ timeoutMs, /** @type {() => boolean} */ stopped) =>
      hub.wait(() => attempt(max), stopped, timeoutMs).then((r) => r ?? NOTHING),
    ...methods(q, ['ack', 'backlog', 'inFlight', 'skipDamaged', 'parked']),
    nack(/** @type {number} */ p, /** @type {number} */ o, /** @type {number} */ l, /** @type {number | undefined} */ delay, /** @type {string | undefined} */ reason) {
      q.nack(p, o, l, delay, reason);
      hub.dueChanged();
    },
    extend(/** @type {number} */ p, /** @type {number} */ o, /** @type {number} */ l, /** @type {number} */ ms) {
      const deadline = q.extend(p, o, l, ms);
      hub.dueChanged();
      return deadline;
    },
    nackFailed(/** @type {number} */ p, /** @type {number} */ o, /** @type {number} */ l, /** @type {string} */ reason) {
      q.nackFailed(p, o, l, reason);
      hub.dueChanged();
    },
    wake: () => hub.wakeNow(),
    close() {
      unregister();
      q.close();
    },
  };
}
