'use strict';
// Runs every cross-language conformance scenario (tests/scenarios/*.json,
// described in tests/scenarios/README.md) against the Node package: the
// log, consumer-group and queue scenarios.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pond, ManualClock } = require('logpond');
const { tempDir } = require('./helpers.js');

const dir = path.resolve(__dirname, '..', '..', 'tests', 'scenarios');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

const TOPIC_OPTIONS = {
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

const CONSUMER_OPTIONS = {
  auto_offset_reset: 'autoOffsetReset',
  auto_commit: 'autoCommit',
  session_timeout_ms: 'sessionTimeoutMs',
  assignor: 'assignor',
};

const QUEUE_OPTIONS = {
  ack_timeout_ms: 'ackTimeoutMs',
  max_deliveries: 'maxDeliveries',
  dead_letter_topic: 'deadLetterTopic',
  max_in_flight: 'maxInFlight',
  start_at_end: 'startAtEnd',
};

/** The options of a step, renamed by `names` (a step field the runner does not know fails the test). */
function optionsOf(step, names, skip) {
  const options = {};
  for (const [k, v] of Object.entries(step)) {
    if (k === 'op' || k === 'error' || k === 'expect' || skip.includes(k)) continue;
    if (!(k in names)) throw new Error(`${step.op} option ${k} is not supported by this runner`);
    options[names[k]] = v;
  }
  return options;
}

const text = (b) => (b === null ? null : b.toString('utf8'));

function sendOptions(step) {
  return {
    key: step.key ?? null,
    headers: step.headers ?? null,
    partition: step.partition ?? null,
    timestampMs: step.timestamp_ms ?? null,
  };
}

function consumerOf(step, env) {
  const c = env.consumers.get(step.consumer);
  if (c === undefined) throw new Error(`no consumer ${step.consumer}`);
  return c;
}

function queueOf(step, env) {
  const q = env.queues.get(step.queue);
  if (q === undefined) throw new Error(`no queue ${step.queue}`);
  return q;
}

async function run(step, env) {
  const { pond } = env;
  switch (step.op) {
    case 'create_topic':
      return pond.createTopic(step.topic, optionsOf(step, TOPIC_OPTIONS, ['topic']));
    case 'delete_topic':
      return pond.deleteTopic(step.topic);
    case 'topics':
      return pond.topics();
    case 'describe': {
      const info = pond.describe(step.topic);
      return {
        partitions: info.partitions.map((p) => ({
          partition: p.partition,
          start_offset: p.startOffset,
          end_offset: p.endOffset,
        })),
      };
    }
    case 'send': {
      const md = pond.send(step.topic, step.value, sendOptions(step));
      return { partition: md.partition, offset: md.offset, timestamp_ms: md.timestampMs };
    }
    case 'send_many': {
      const mds = pond.sendMany(
        step.topic,
        step.records.map((r) => ({ value: r.value ?? null, ...sendOptions(r) })),
      );
      return mds.map((md) => ({ partition: md.partition, offset: md.offset, timestamp_ms: md.timestampMs }));
    }
    case 'read':
      return pond
        .read(step.topic, step.partition, { offset: step.offset, maxRecords: step.max_records ?? 500 })
        .map(recordJson);
    case 'offset_for_time':
      return pond.offsetForTime(step.topic, step.partition, step.timestamp_ms);
    case 'delete_records':
      return pond.deleteRecords(step.topic, step.partition, step.before_offset);
    case 'advance':
      return env.clock.advance(step.ms);
    case 'maintain':
      return pond.maintain();
    case 'reopen':
      // Consumers and queues are not closed first: the pond goes away under them.
      pond.close();
      env.consumers.clear();
      env.queues.clear();
      env.deliveries.clear();
      env.pond = Pond.open(env.dir, { clock: env.clock });
      return undefined;
    case 'consumer': {
      const options = optionsOf(step, CONSUMER_OPTIONS, ['name', 'group', 'topics']);
      env.consumers.set(step.name, pond.consumer({ group: step.group, topics: step.topics, ...options }));
      return undefined;
    }
    case 'poll':
      return (await consumerOf(step, env).poll({ maxRecords: step.max_records })).map(recordJson);
    case 'commit':
      return consumerOf(step, env).commit(step.offsets);
    case 'committed':
      return consumerOf(step, env).committed(step.topic, step.partition);
    case 'position':
      return consumerOf(step, env).position(step.topic, step.partition);
    case 'seek':
      return consumerOf(step, env).seek(step.topic, step.partition, step.offset);
    case 'seek_to_beginning':
      return consumerOf(step, env).seekToBeginning();
    case 'seek_to_end':
      return consumerOf(step, env).seekToEnd();
    case 'seek_to_time':
      return consumerOf(step, env).seekToTime(step.timestamp_ms);
    case 'assignment':
      return consumerOf(step, env)
        .assignment()
        .map((a) => [a.topic, a.partition]);
    case 'lag':
      return consumerOf(step, env)
        .lag()
        .map((l) => [l.topic, l.partition, l.lag]);
    case 'close_consumer': {
      const c = consumerOf(step, env);
      env.consumers.delete(step.consumer);
      return c.close();
    }
    case 'queue': {
      const options = optionsOf(step, QUEUE_OPTIONS, ['name', 'topic', 'subscription']);
      env.queues.set(step.name, pond.queue(step.topic, { subscription: step.subscription, ...options }));
      return undefined;
    }
    case 'receive': {
      const got = await queueOf(step, env).receive({ maxMessages: step.max_messages });
      if (step.as !== undefined) env.deliveries.set(step.as, got);
      return got.map((d) => ({
        partition: d.record.partition,
        offset: d.record.offset,
        value: text(d.record.value),
        delivery_count: d.deliveryCount,
      }));
    }
    case 'ack':
    case 'nack': {
      const all = env.deliveries.get(step.deliveries);
      if (all === undefined) throw new Error(`no deliveries labelled ${step.deliveries}`);
      queueOf(step, env); // the step names a known queue
      const chosen = step.index === undefined ? all : [all[step.index]];
      for (const d of chosen) {
        if (step.op === 'ack') d.ack();
        else d.nack({ delayMs: step.delay_ms ?? 0 });
      }
      return undefined;
    }
    case 'backlog':
      return queueOf(step, env).backlog();
    case 'in_flight':
      return queueOf(step, env).inFlight();
    case 'close_queue': {
      const q = queueOf(step, env);
      env.queues.delete(step.queue);
      return q.close();
    }
    default:
      throw new Error(`op ${step.op} is not supported by this runner`);
  }
}

/** A record as the scenario files write it. */
function recordJson(r) {
  return {
    offset: r.offset,
    partition: r.partition,
    key: text(r.key),
    value: text(r.value),
    headers: r.headers.map(([n, v]) => [n, text(v)]),
    timestamp_ms: r.timestampMs,
  };
}

/**
 * `actual` with only what `expected` names: objects keep the fields
 * `expected` has, arrays are compared element by element (as the Rust
 * runner's `matches`).
 */
function shaped(actual, expected) {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return actual.map((a, i) => (i < expected.length ? shaped(a, expected[i]) : a));
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    return Object.fromEntries(Object.keys(expected).map((k) => [k, shaped(actual[k], expected[k])]));
  }
  return actual;
}

function check(step, result) {
  if (!('expect' in step)) return;
  assert.deepEqual(shaped(result, step.expect), step.expect);
}

test('the scenarios are there', () => {
  for (const kind of ['log-', 'group-', 'queue-']) {
    assert.ok(files.filter((f) => f.startsWith(kind)).length >= 10, `found ${files.join(', ')} in ${dir}`);
  }
});

for (const file of files) {
  const scenario = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  test(`scenario ${scenario.name}: ${scenario.description}`, async (t) => {
    const env = {
      dir: tempDir(t),
      clock: new ManualClock(scenario.clock_ms ?? 0),
      consumers: new Map(),
      queues: new Map(),
      deliveries: new Map(),
    };
    env.pond = Pond.open(env.dir, { clock: env.clock });
    try {
      for (const [i, step] of scenario.steps.entries()) {
        const where = `step ${i} (${JSON.stringify(step)})`;
        if (step.error) {
          await assert.rejects(async () => run(step, env), { code: step.error }, where);
          continue;
        }
        let result;
        try {
          result = await run(step, env);
        } catch (e) {
          throw new Error(`${where} failed: ${e.message}`, { cause: e });
        }
        try {
          check(step, result);
        } catch (e) {
          e.message = `${where}: ${e.message}`;
          throw e;
        }
      }
    } finally {
      env.pond.close();
    }
  });
}
