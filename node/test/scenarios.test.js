'use strict';
// Runs the cross-language conformance scenarios of the log side
// (tests/scenarios/log-*.json, described in tests/scenarios/README.md)
// against the Node package. Consumer-group and queue scenarios join when
// the package gets consumers and queues.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pond, ManualClock } = require('logpond');
const { tempDir } = require('./helpers.js');

const dir = path.resolve(__dirname, '..', '..', 'tests', 'scenarios');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.startsWith('log-') && f.endsWith('.json'))
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
};

const text = (b) => (b === null ? null : b.toString('utf8'));

/** A record as the scenario files write it, with only the fields `expected` names. */
function recordAsExpected(r, expected) {
  const full = {
    offset: r.offset,
    partition: r.partition,
    key: text(r.key),
    value: text(r.value),
    headers: r.headers.map(([n, v]) => [n, text(v)]),
    timestamp_ms: r.timestampMs,
  };
  return Object.fromEntries(Object.keys(expected).map((k) => [k, full[k]]));
}

function pick(obj, expected) {
  return Object.fromEntries(Object.keys(expected).map((k) => [k, obj[k]]));
}

function sendOptions(step) {
  return {
    key: step.key ?? null,
    headers: step.headers ?? null,
    partition: step.partition ?? null,
    timestampMs: step.timestamp_ms ?? null,
  };
}

function run(step, env) {
  const { pond } = env;
  switch (step.op) {
    case 'create_topic': {
      const options = {};
      for (const [k, v] of Object.entries(step)) {
        if (k === 'op' || k === 'topic' || k === 'error' || k === 'expect') continue;
        if (!(k in TOPIC_OPTIONS)) throw new Error(`create_topic option ${k} is not supported by this runner`);
        options[TOPIC_OPTIONS[k]] = v;
      }
      return pond.createTopic(step.topic, options);
    }
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
      return pond.read(step.topic, step.partition, { offset: step.offset, maxRecords: step.max_records ?? 500 });
    case 'offset_for_time':
      return pond.offsetForTime(step.topic, step.partition, step.timestamp_ms);
    case 'delete_records':
      return pond.deleteRecords(step.topic, step.partition, step.before_offset);
    case 'advance':
      return env.clock.advance(step.ms);
    case 'maintain':
      return pond.maintain();
    case 'reopen':
      pond.close();
      env.pond = Pond.open(env.dir, { clock: env.clock });
      return undefined;
    default:
      throw new Error(`op ${step.op} is not supported by this runner`);
  }
}

function check(step, result) {
  if (!('expect' in step)) return;
  const { expect } = step;
  switch (step.op) {
    case 'read':
      assert.equal(result.length, expect.length, 'record count');
      assert.deepEqual(
        result.map((r, i) => recordAsExpected(r, expect[i])),
        expect,
      );
      return;
    case 'send':
      assert.deepEqual(pick(result, expect), expect);
      return;
    case 'send_many':
      assert.equal(result.length, expect.length);
      assert.deepEqual(
        result.map((r, i) => pick(r, expect[i])),
        expect,
      );
      return;
    case 'describe':
      assert.equal(result.partitions.length, expect.partitions.length);
      assert.deepEqual(
        result.partitions.map((p, i) => pick(p, expect.partitions[i])),
        expect.partitions,
      );
      return;
    default:
      assert.deepEqual(result, expect);
  }
}

test('the log scenarios are there', () => {
  assert.ok(files.length >= 10, `found ${files.length} log scenarios in ${dir}`);
});

for (const file of files) {
  const scenario = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  test(`scenario ${scenario.name}: ${scenario.description}`, (t) => {
    const env = { dir: tempDir(t), clock: new ManualClock(scenario.clock_ms ?? 0) };
    env.pond = Pond.open(env.dir, { clock: env.clock });
    try {
      scenario.steps.forEach((step, i) => {
        const where = `step ${i} (${step.op})`;
        if (step.error) {
          assert.throws(() => run(step, env), { code: step.error }, where);
          return;
        }
        let result;
        try {
          result = run(step, env);
        } catch (e) {
          throw new Error(`${where} failed: ${e.message}`, { cause: e });
        }
        try {
          check(step, result);
        } catch (e) {
          e.message = `${where}: ${e.message}`;
          throw e;
        }
      });
    } finally {
      env.pond.close();
    }
  });
}
