// The conformance scenarios (tests/scenarios/*.json, format in
// tests/scenarios/README.md; core/tests/scenarios.rs is the reference),
// run by one runner for both JavaScript packages: Node on a pond directory
// (node/test/scenarios.test.js), browsers on IndexedDB
// (web/test/pages/scenarios.js). The package gives how its pond opens,
// reopens and goes away. Runtime-neutral: no node: imports.

const decoder = new TextDecoder();

/** @param {Uint8Array | null} b */
const text = (b) => (b === null ? null : decoder.decode(b));

/** snake_case step fields to the camelCase option names (retention_ms: retentionMs). @param {string} k */
const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** A step's fields but `skip`, as options (absent ones left out; a field the API does not know fails there). */
function optionsOf(/** @type {any} */ step, /** @type {string[]} */ skip) {
  /** @type {Record<string, any>} */
  const o = {};
  for (const [k, v] of Object.entries(step)) {
    if (!['op', 'error', 'expect', ...skip].includes(k) && v != null) o[camel(k)] = v;
  }
  return o;
}

/** A record as the scenario files write it. @param {any} r */
function recordJson(r) {
  return {
    partition: r.partition,
    offset: r.offset,
    key: text(r.key),
    value: text(r.value),
    timestamp_ms: r.timestampMs,
    headers: r.headers.map((/** @type {[string, Uint8Array]} */ [n, v]) => [n, text(v)]),
  };
}

/** Every field present in `expected` matches (as the Rust runner's `matches`). @param {any} actual @param {any} expected @returns {boolean} */
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

/** A record of a `send` or `send_many` step. @param {any} v */
function recordInput(v) {
  return { value: v.value ?? null, ...optionsOf({ ...v, value: null }, []) };
}

/** A subscription's settings as the scenario files write them. @param {any} s */
function settingsJson(s) {
  return {
    ack_timeout_ms: s.ackTimeoutMs,
    max_deliveries: s.maxDeliveries,
    dead_letter_topic: s.deadLetterTopic,
    retry_backoff_ms: s.retryBackoffMs,
  };
}

/**
 * Runs one scenario against the package `lp`; resolves with the failures
 * (empty when it passes).
 * @param {any} lp the package
 * @param {any} scenario
 * @param {{ open(clock: any): Promise<any>, reopen(pond: any, clock: any): Promise<any>, dispose(pond: any): Promise<void> }} storage
 * @returns {Promise<string[]>}
 */
export async function runScenario(lp, scenario, storage) {
  const clock = new lp.ManualClock(scenario.clock_ms ?? 0);
  let pond = await storage.open(clock);
  /** @type {Map<string, any>} */
  const consumers = new Map();
  /** @type {Map<string, any>} */
  const queues = new Map();
  /** @type {Map<string, any[]>} */
  const deliveries = new Map();
  const failures = [];
  /** @param {Map<string, any>} map @param {string} name @param {string} what */
  const named = (map, name, what) => {
    const v = map.get(name);
    if (v === undefined) throw new Error(`no ${what} ${name}`);
    return v;
  };
  const consumer = (/** @type {any} */ s) => named(consumers, s.consumer, 'consumer');
  const queue = (/** @type {any} */ s) => named(queues, s.queue, 'queue');

  /** @param {any} s @returns {Promise<any>} */
  async function step(s) {
    switch (s.op) {
      case 'create_topic':
        return pond.createTopic(s.topic, optionsOf(s, ['topic']));
      case 'delete_topic':
        return pond.deleteTopic(s.topic);
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
        const md = await pond.send(s.topic, value, optionsOf(options, ['topic']));
        return { partition: md.partition, offset: md.offset, timestamp_ms: md.timestampMs };
      }
      case 'send_many':
        return (await pond.sendMany(s.topic, s.records.map(recordInput), optionsOf(s, ['topic', 'records']))).map((/** @type {any} */ m) => ({ partition: m.partition, offset: m.offset, timestamp_ms: m.timestampMs }));
      case 'read':
        return pond.read(s.topic, s.partition, { offset: s.offset, maxRecords: s.max_records ?? 500 }).map(recordJson);
      case 'offset_for_time':
        return pond.offsetForTime(s.topic, s.partition, s.timestamp_ms);
      case 'delete_records':
        return pond.deleteRecords(s.topic, s.partition, s.before_offset);
      case 'advance':
        return clock.advance(s.ms);
      case 'maintain':
        return pond.maintain();
      case 'reopen':
        // Consumers and queues are not closed first: the pond goes away under them.
        consumers.clear();
        queues.clear();
        deliveries.clear();
        pond = await storage.reopen(pond, clock);
        return undefined;
      case 'consumer':
        consumers.set(s.name, await pond.consumer({ group: s.group, topics: s.topics, ...optionsOf(s, ['name', 'group', 'topics']) }));
        return undefined;
      case 'poll':
        return (await consumer(s).poll({ maxRecords: s.max_records })).map(recordJson);
      case 'commit':
        return consumer(s).commit(s.offsets);
      case 'committed':
        return consumer(s).committed(s.topic, s.partition);
      case 'position':
        return consumer(s).position(s.topic, s.partition);
      case 'seek':
        return consumer(s).seek(s.topic, s.partition, s.offset);
      case 'seek_to_beginning':
        return consumer(s).seekToBeginning();
      case 'seek_to_end':
        return consumer(s).seekToEnd();
      case 'seek_to_time':
        return consumer(s).seekToTime(s.timestamp_ms);
      case 'assignment':
        return consumer(s).assignment().map((/** @type {any} */ a) => [a.topic, a.partition]);
      case 'lag':
        return consumer(s).lag().map((/** @type {any} */ l) => [l.topic, l.partition, l.lag]);
      case 'close_consumer':
        await consumer(s).close();
        return consumers.delete(s.consumer) && undefined;
      case 'queue':
        queues.set(s.name, await pond.queue(s.topic, { subscription: s.subscription, ...optionsOf(s, ['name', 'topic', 'subscription']) }));
        return undefined;
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
        const all = named(deliveries, s.deliveries, 'deliveries labelled');
        queue(s); // the step names a known queue
        for (const d of s.index != null ? [all[s.index]] : all) {
          if (s.op === 'ack') await d.ack();
          else await d.nack(s.delay_ms != null ? { delayMs: s.delay_ms } : undefined);
        }
        return undefined;
      }
      case 'extend': {
        const all = named(deliveries, s.deliveries, 'deliveries labelled');
        queue(s);
        await all[s.index ?? 0].extend({ ackTimeoutMs: s.ms });
        return undefined;
      }
      case 'update_subscription':
        return settingsJson(await pond.updateSubscription(s.topic, s.subscription, optionsOf(s, ['topic', 'subscription'])));
      case 'describe_subscription': {
        const i = pond.describeSubscription(s.topic, s.subscription);
        return {
          topic: i.topic,
          subscription: i.subscription,
          backlog: i.backlog,
          in_flight: i.inFlight,
          dead_lettered: i.deadLettered,
          parked: i.parked,
          expired: i.expired,
          oldest_unacked_age_ms: i.oldestUnackedAgeMs,
          settings: settingsJson(i.settings),
        };
      }
      case 'subscriptions':
        return pond.subscriptions(s.topic);
      case 'parked':
        return queue(s)
          .parked()
          .map((/** @type {any} */ p) => ({ partition: p.partition, offset: p.offset, delivery_count: p.deliveryCount, reason: p.reason }));
      case 'backlog':
        return queue(s).backlog();
      case 'in_flight':
        return queue(s).inFlight();
      case 'close_queue':
        await queue(s).close();
        return queues.delete(s.queue) && undefined;
      default:
        throw new Error(`op ${s.op} is not supported by this runner`);
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
    await storage.dispose(pond);
  }
  return failures;
}
