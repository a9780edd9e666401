// The browser runner of the conformance scenarios (tests/scenarios/*.json,
// format in tests/scenarios/README.md; core/tests/scenarios.rs is the
// reference). Each scenario runs on a fresh IndexedDB pond with a manual
// clock; `reopen` is flush + close + `Pond.openIndexedDb` on the same name.

import { Pond, ManualClock } from '/src/index.js';

const decoder = new TextDecoder();

/** @param {Uint8Array | null} b */
const text = (b) => (b === null ? null : decoder.decode(b));

/** @param {any} r */
function recordJson(r) {
  return {
    partition: r.partition,
    offset: r.offset,
    key: text(r.key),
    value: text(r.value),
    timestamp_ms: r.timestampMs,
    headers: r.headers.map((/** @type {[string, Uint8Array]} */ [n, v]) => [n, decoder.decode(v)]),
  };
}

/** Every field present in `expected` matches. @param {any} actual @param {any} expected @returns {boolean} */
function matches(actual, expected) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  }
  if (expected !== null && typeof expected === 'object') {
    return (
      actual !== null &&
      typeof actual === 'object' &&
      !Array.isArray(actual) &&
      Object.keys(expected).every((k) => k in actual && matches(actual[k], expected[k]))
    );
  }
  return actual === expected;
}

/** @param {any} v */
function recordInput(v) {
  /** @type {Record<string, any>} */
  const o = { value: v.value ?? null };
  if (v.key != null) o.key = v.key;
  if (v.headers != null) o.headers = v.headers;
  if (v.partition != null) o.partition = v.partition;
  if (v.timestamp_ms != null) o.timestampMs = v.timestamp_ms;
  return o;
}

/**
 * Runs one scenario; resolves with the failures (empty when it passes).
 * @param {any} scenario
 * @returns {Promise<string[]>}
 */
export async function runScenario(scenario) {
  const name = `scenario-${scenario.name}-${Math.random().toString(36).slice(2)}`;
  const clock = new ManualClock(scenario.clock_ms ?? 0);
  let pond = await Pond.openIndexedDb(name, { clock });
  /** @type {Map<string, any>} */
  const consumers = new Map();
  /** @type {Map<string, any>} */
  const queues = new Map();
  /** @type {Map<string, any[]>} */
  const deliveries = new Map();
  const failures = [];

  /** @param {any} s */
  const consumer = (s) => {
    const c = consumers.get(s.consumer);
    if (c === undefined) throw new Error(`no consumer ${s.consumer}`);
    return c;
  };
  /** @param {any} s */
  const queue = (s) => {
    const q = queues.get(s.queue);
    if (q === undefined) throw new Error(`no queue ${s.queue}`);
    return q;
  };

  /** @param {any} s @returns {Promise<any>} */
  async function step(s) {
    switch (s.op) {
      case 'create_topic': {
        /** @type {Record<string, any>} */
        const o = {};
        const map = {
          partitions: 'partitions',
          retention_ms: 'retentionMs',
          retention_bytes: 'retentionBytes',
          retention_records: 'retentionRecords',
          compact: 'compact',
          max_record_bytes: 'maxRecordBytes',
          max_backlog: 'maxBacklog',
          segment_bytes: 'segmentBytes',
          retain_until_acked: 'retainUntilAcked',
        };
        for (const [k, v] of Object.entries(map)) if (s[k] != null) o[v] = s[k];
        pond.createTopic(s.topic, o);
        return null;
      }
      case 'delete_topic':
        pond.deleteTopic(s.topic);
        return null;
      case 'topics':
        return pond.topics();
      case 'describe':
        return {
          partitions: pond.describe(s.topic).partitions.map((/** @type {any} */ p) => ({
            partition: p.partition,
            start_offset: p.startOffset,
            end_offset: p.endOffset,
          })),
        };
      case 'send': {
        const { value, ...options } = recordInput(s);
        const md = pond.send(s.topic, value, options);
        return { partition: md.partition, offset: md.offset, timestamp_ms: md.timestampMs };
      }
      case 'send_many':
        return pond.sendMany(s.topic, s.records.map(recordInput)).map((/** @type {any} */ m) => ({ partition: m.partition, offset: m.offset }));
      case 'read':
        return pond.read(s.topic, s.partition, { offset: s.offset, maxRecords: s.max_records ?? 500 }).map(recordJson);
      case 'offset_for_time':
        return pond.offsetForTime(s.topic, s.partition, s.timestamp_ms);
      case 'delete_records':
        pond.deleteRecords(s.topic, s.partition, s.before_offset);
        return null;
      case 'advance':
        clock.advance(s.ms);
        return null;
      case 'maintain':
        pond.maintain();
        return null;
      case 'reopen':
        await pond.flush();
        await pond.close();
        consumers.clear();
        queues.clear();
        deliveries.clear();
        pond = await Pond.openIndexedDb(name, { clock });
        return null;
      case 'consumer': {
        /** @type {Record<string, any>} */
        const o = { group: s.group, topics: s.topics };
        if (s.auto_offset_reset != null) o.autoOffsetReset = s.auto_offset_reset;
        if (s.auto_commit != null) o.autoCommit = s.auto_commit;
        if (s.session_timeout_ms != null) o.sessionTimeoutMs = s.session_timeout_ms;
        if (s.assignor != null) o.assignor = s.assignor;
        consumers.set(s.name, pond.consumer(o));
        return null;
      }
      case 'poll':
        return (await consumer(s).poll({ maxRecords: s.max_records })).map(recordJson);
      case 'commit':
        consumer(s).commit(s.offsets);
        return null;
      case 'committed':
        return consumer(s).committed(s.topic, s.partition);
      case 'position':
        return consumer(s).position(s.topic, s.partition);
      case 'seek':
        consumer(s).seek(s.topic, s.partition, s.offset);
        return null;
      case 'seek_to_beginning':
        consumer(s).seekToBeginning();
        return null;
      case 'seek_to_end':
        consumer(s).seekToEnd();
        return null;
      case 'seek_to_time':
        consumer(s).seekToTime(s.timestamp_ms);
        return null;
      case 'assignment':
        return consumer(s).assignment().map((/** @type {any} */ a) => [a.topic, a.partition]);
      case 'lag':
        return consumer(s).lag().map((/** @type {any} */ l) => [l.topic, l.partition, l.lag]);
      case 'close_consumer':
        consumer(s).close();
        consumers.delete(s.consumer);
        return null;
      case 'queue': {
        /** @type {Record<string, any>} */
        const o = { subscription: s.subscription };
        if (s.ack_timeout_ms != null) o.ackTimeoutMs = s.ack_timeout_ms;
        if (s.max_deliveries != null) o.maxDeliveries = s.max_deliveries;
        if (s.dead_letter_topic != null) o.deadLetterTopic = s.dead_letter_topic;
        if (s.max_in_flight != null) o.maxInFlight = s.max_in_flight;
        if (s.start_at_end != null) o.startAtEnd = s.start_at_end;
        queues.set(s.name, pond.queue(s.topic, o));
        return null;
      }
      case 'receive': {
        const got = await queue(s).receive({ maxMessages: s.max_messages });
        if (s.as != null) deliveries.set(s.as, got);
        return got.map((/** @type {any} */ d) => ({
          partition: d.record.partition,
          offset: d.record.offset,
          value: text(d.record.value),
          delivery_count: d.deliveryCount,
        }));
      }
      case 'ack':
      case 'nack': {
        const all = deliveries.get(s.deliveries);
        if (all === undefined) throw new Error(`no deliveries labelled ${s.deliveries}`);
        const chosen = s.index != null ? [all[s.index]] : all;
        queue(s); // the queue must exist
        for (const d of chosen) {
          if (s.op === 'ack') d.ack();
          else d.nack({ delayMs: s.delay_ms ?? 0 });
        }
        return null;
      }
      case 'backlog':
        return queue(s).backlog();
      case 'in_flight':
        return queue(s).inFlight();
      case 'close_queue':
        queue(s).close();
        queues.delete(s.queue);
        return null;
      default:
        throw new Error(`unknown op ${s.op}`);
    }
  }

  try {
    for (let i = 0; i < scenario.steps.length; i++) {
      const s = scenario.steps[i];
      const at = `${scenario.name} step ${i} (${JSON.stringify(s)})`;
      let result;
      try {
        result = await step(s);
      } catch (e) {
        const err = /** @type {any} */ (e);
        if (s.error == null) failures.push(`${at}: ${err?.name}: ${err?.message}`);
        else if (err?.code !== s.error) failures.push(`${at}: expected error ${s.error}, got ${err?.code} (${err?.name}: ${err?.message})`);
        else if (!(err instanceof Error)) failures.push(`${at}: the error is not an Error`);
        continue;
      }
      if (s.error != null) failures.push(`${at}: expected error ${s.error}, got ${JSON.stringify(result)}`);
      else if ('expect' in s && !matches(result, s.expect)) {
        failures.push(`${at}: got ${JSON.stringify(result)}, expected ${JSON.stringify(s.expect)}`);
      }
    }
  } finally {
    await pond.close().catch(() => {});
    await Pond.deleteIndexedDb(name).catch(() => {});
  }
  return failures;
}
