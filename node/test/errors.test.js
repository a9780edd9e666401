'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const logpond = require('logpond');
const { Pond, ManualClock, LogpondError } = logpond;
const { tempDir } = require('./helpers.js');

const CODES = {
  TopicExists: 'TOPIC_EXISTS',
  TopicNotFound: 'TOPIC_NOT_FOUND',
  InvalidName: 'INVALID_NAME',
  InvalidArgument: 'INVALID_ARGUMENT',
  RecordTooLarge: 'RECORD_TOO_LARGE',
  Backpressure: 'BACKPRESSURE',
  OffsetOutOfRange: 'OFFSET_OUT_OF_RANGE',
  Corruption: 'CORRUPTION',
  PondLocked: 'POND_LOCKED',
  Closed: 'CLOSED',
  CommitFailed: 'COMMIT_FAILED',
  LeaseExpired: 'LEASE_EXPIRED',
  IoError: 'IO',
};

/** Asserts `fn` throws the logpond error class `name`, with its code, as a real Error. */
function throwsLogpond(fn, name) {
  let caught;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${name} to be thrown`);
  assert.ok(caught instanceof Error, 'an Error, not a thrown string');
  assert.ok(caught instanceof LogpondError, `${caught} is a LogpondError`);
  assert.ok(caught instanceof logpond[name], `${caught} is a ${name}`);
  assert.equal(caught.name, name);
  assert.equal(caught.code, CODES[name]);
  assert.equal(typeof caught.message, 'string');
  assert.ok(caught.message.length > 0);
  assert.match(caught.stack, new RegExp(`^${name}: `));
  assert.doesNotMatch(caught.stack.split('\n')[1], /translate/, 'the stack starts at the API call');
  return caught;
}

test('error classes form a hierarchy with stable codes', () => {
  for (const [name, code] of Object.entries(CODES)) {
    const cls = logpond[name];
    assert.equal(typeof cls, 'function', name);
    const e = new cls('boom');
    assert.ok(e instanceof Error);
    assert.ok(e instanceof LogpondError);
    assert.equal(e.name, name);
    assert.equal(e.code, code);
    assert.equal(e.message, 'boom');
    assert.equal(Object.prototype.toString.call(e), '[object Error]');
  }
  assert.ok(!(new logpond.TopicExists('x') instanceof logpond.TopicNotFound));
  assert.equal(new LogpondError('x', 'SOMETHING').code, 'SOMETHING');
});

test('every code the core can raise has its class', () => {
  const native = require('../lib/native.js').default;
  const classes = new Map(Object.entries(CODES).map(([name, code]) => [code, name]));
  const codes = native.errorCodes();
  assert.ok(codes.length >= 11);
  for (const code of codes) {
    assert.ok(classes.has(code), `no class for ${code}`);
    assert.equal(new logpond[classes.get(code)]('x').code, code);
  }
});

test('every error code reachable now is thrown as its class', (t) => {
  const pond = Pond.memory();
  pond.createTopic('t', { maxRecordBytes: 8, partitions: 2 });

  throwsLogpond(() => pond.createTopic('t'), 'TopicExists');
  throwsLogpond(() => pond.send('missing', 'x'), 'TopicNotFound');
  throwsLogpond(() => pond.read('missing', 0), 'TopicNotFound');
  throwsLogpond(() => pond.describe('missing'), 'TopicNotFound');
  throwsLogpond(() => pond.deleteTopic('missing'), 'TopicNotFound');
  throwsLogpond(() => pond.offsetForTime('missing', 0, 0), 'TopicNotFound');
  throwsLogpond(() => pond.deleteRecords('missing', 0, 0), 'TopicNotFound');
  throwsLogpond(() => pond.sendMany('missing', ['x']), 'TopicNotFound');

  for (const bad of ['', '.', '..', 'has space', 'slash/y', 'ümlaut', 'x'.repeat(250), '__internal']) {
    throwsLogpond(() => pond.createTopic(bad), 'InvalidName');
  }
  throwsLogpond(() => pond.deleteTopic('no/slash'), 'InvalidName');

  throwsLogpond(() => pond.createTopic('p0', { partitions: 0 }), 'InvalidArgument');
  throwsLogpond(() => pond.createTopic('p0', { partitions: -1 }), 'InvalidArgument');
  throwsLogpond(() => pond.createTopic('p0', { partitions: 1.5 }), 'InvalidArgument');
  throwsLogpond(() => pond.createTopic('p0', { retentionMs: 0 }), 'InvalidArgument');
  throwsLogpond(() => pond.createTopic('p0', { segmentBytes: 10 }), 'InvalidArgument');
  throwsLogpond(() => pond.send('t', 'x', { partition: 2 }), 'InvalidArgument');
  throwsLogpond(() => pond.send('t', 'x', { partition: -1 }), 'InvalidArgument');
  throwsLogpond(() => pond.send('t', 'x', { partition: 0.5 }), 'InvalidArgument');
  throwsLogpond(() => pond.send('t', 'x', { partition: NaN }), 'InvalidArgument');
  throwsLogpond(() => pond.send('t', 'x', { timestampMs: -1 }), 'InvalidArgument');
  throwsLogpond(() => pond.read('t', 5), 'InvalidArgument');
  throwsLogpond(() => pond.read('t', 0, { maxRecords: -1 }), 'InvalidArgument');
  throwsLogpond(() => Pond.open(tempDir(t), { durability: 'sometimes' }), 'InvalidArgument');
  throwsLogpond(() => new ManualClock(1.5), 'InvalidArgument');
  throwsLogpond(() => Pond.open(''), 'InvalidArgument');

  throwsLogpond(() => pond.send('t', '123456789'), 'RecordTooLarge');
  throwsLogpond(() => pond.send('t', '1234', { key: '12345' }), 'RecordTooLarge');
  throwsLogpond(() => pond.send('t', '1234', { headers: [['abc', '12']] }), 'RecordTooLarge');
  pond.send('t', '12345678', { partition: 0 }); // exactly the limit is fine

  throwsLogpond(() => pond.read('t', 0, { offset: 2 }), 'OffsetOutOfRange');
  throwsLogpond(() => pond.deleteRecords('t', 0, 2), 'OffsetOutOfRange');

  pond.close();
  throwsLogpond(() => pond.send('t', 'x'), 'Closed');
  throwsLogpond(() => pond.sendMany('t', ['x']), 'Closed');
  throwsLogpond(() => pond.read('t', 0), 'Closed');
  throwsLogpond(() => pond.topics(), 'Closed');
  throwsLogpond(() => pond.createTopic('new'), 'Closed');
  throwsLogpond(() => pond.describe('t'), 'Closed');
  throwsLogpond(() => pond.deleteTopic('t'), 'Closed');
  throwsLogpond(() => pond.offsetForTime('t', 0, 0), 'Closed');
  throwsLogpond(() => pond.deleteRecords('t', 0, 0), 'Closed');
  throwsLogpond(() => pond.maintain(), 'Closed');
  throwsLogpond(() => pond.flush(), 'Closed');
});

test('handles share a directory and its groups (no PondLocked)', async (t) => {
  const dir = tempDir(t);
  const first = Pond.open(dir);
  const second = Pond.open(dir);
  first.createTopic('t', { partitions: 2 });
  second.send('t', 'from the second', { partition: 1 });
  assert.deepEqual(first.read('t', 1).map((r) => r.value.toString()), ['from the second']);
  const a = first.consumer({ group: 'g', topics: ['t'] });
  const b = second.consumer({ group: 'g', topics: ['t'] });
  for (let i = 0; i < 3; i++) {
    await a.poll();
    await b.poll();
  }
  const owned = [...a.assignment(), ...b.assignment()].map((tp) => `${tp.topic}/${tp.partition}`).sort();
  assert.deepEqual(owned, ['t/0', 't/1']);
  a.close();
  b.close();
  first.close();
  second.close();
});

test('a readOnly handle reads beside a writer and never writes', (t) => {
  const dir = tempDir(t);
  const writer = Pond.open(dir);
  writer.createTopic('t');
  writer.send('t', 'one');
  const reader = Pond.open(dir, { readOnly: true });
  assert.deepEqual(reader.read('t').map((r) => r.value.toString()), ['one']);
  writer.send('t', 'two');
  assert.deepEqual(reader.read('t').map((r) => r.value.toString()), ['one', 'two']);
  throwsLogpond(() => reader.send('t', 'no'), 'IoError');
  throwsLogpond(() => reader.consumer({ group: 'g', topics: ['t'] }), 'IoError');
  reader.close();
  writer.close();
  throwsLogpond(() => Pond.open(require('node:path').join(dir, 'missing'), { readOnly: true }), 'IoError');
});

test('an operating-system failure is IoError', (t) => {
  const fs = require('node:fs');
  const path = require('node:path');
  const file = path.join(tempDir(t), 'a-file');
  fs.writeFileSync(file, 'not a directory');
  throwsLogpond(() => Pond.open(file), 'IoError');
  throwsLogpond(() => Pond.open(path.join(file, 'below')), 'IoError');
});

test('a damaged pond marker is Corruption', (t) => {
  const fs = require('node:fs');
  const path = require('node:path');
  const dir = tempDir(t);
  Pond.open(dir).close();
  fs.writeFileSync(path.join(dir, 'pond.meta'), 'not a pond marker');
  throwsLogpond(() => Pond.open(dir), 'Corruption');
});

test('offsets and times beyond 2^53 are refused clearly', () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  pond.send('t', 'x');
  const tooBig = [2 ** 53, 2 ** 64, Number.MAX_VALUE, 2n ** 60n];
  for (const v of tooBig) {
    const e = throwsLogpond(() => pond.read('t', 0, { offset: v }), 'InvalidArgument');
    assert.match(e.message, /MAX_SAFE_INTEGER/);
    throwsLogpond(() => pond.deleteRecords('t', 0, v), 'InvalidArgument');
    throwsLogpond(() => pond.offsetForTime('t', 0, v), 'InvalidArgument');
    throwsLogpond(() => pond.send('t', 'x', { timestampMs: v }), 'InvalidArgument');
  }
  throwsLogpond(() => pond.read('t', 0, { offset: Infinity }), 'InvalidArgument');
  throwsLogpond(() => pond.read('t', 0, { offset: -1 }), 'InvalidArgument');
  throwsLogpond(() => pond.read('t', 0, { offset: 0.5 }), 'InvalidArgument');
  // Safe bigints are accepted where numbers are.
  assert.equal(pond.read('t', 0n, { offset: 0n })[0].offset, 0);
  pond.close();
});

test('wrong argument types are TypeError, before anything is done', () => {
  const pond = Pond.memory();
  pond.createTopic('t');
  const typeErrors = [
    () => pond.createTopic(42),
    () => pond.createTopic('x', 'options'),
    () => pond.createTopic('x', { partitions: '3' }),
    () => pond.createTopic('x', { compact: 'yes' }),
    () => pond.createTopic('x', { retention: 5 }), // unknown option (typo of retentionMs)
    () => pond.describe(),
    () => pond.deleteTopic(null),
    () => pond.send(),
    () => pond.send('t'),
    () => pond.send('t', 42),
    () => pond.send('t', { value: 'x' }),
    () => pond.send('t', [1, 2]),
    () => pond.send('t', new Uint16Array(2)),
    () => pond.send('t', new ArrayBuffer(4)),
    () => pond.send(Symbol('t'), 'x'),
    () => pond.send('t', 'x', 'options'),
    () => pond.send('t', 'x', { key: 42 }),
    () => pond.send('t', 'x', { partition: '1' }),
    () => pond.send('t', 'x', { timestampMs: 'now' }),
    () => pond.send('t', 'x', { headers: 'h' }),
    () => pond.send('t', 'x', { headers: [['only-name']] }),
    () => pond.send('t', 'x', { headers: [[1, 'v']] }),
    () => pond.send('t', 'x', { headers: [['n', 5]] }),
    () => pond.send('t', 'x', { headers: [['n', null]] }),
    () => pond.sendMany('t', 'x'),
    () => pond.sendMany('t', [42]),
    () => pond.sendMany('t', [null]),
    () => pond.sendMany('t', [['nested']]),
    () => pond.sendMany('t', [{ value: 5 }]),
    () => pond.sendMany('t', [{ value: 'x', key: {} }]),
    () => pond.read(7, 0),
    () => pond.read('t', '0'),
    () => pond.read('t', 0, { offset: '1' }),
    () => pond.read('t', 0, 5),
    () => pond.offsetForTime('t', 0, 'yesterday'),
    () => pond.deleteRecords('t', 0, '1'),
    () => Pond.open(42),
    () => Pond.open('/tmp/x', { durability: 1 }),
    () => Pond.open('/tmp/x', { clock: { nowMs: () => 0 } }),
    () => Pond.open('/tmp/x', { durabilty: 'fsync' }),
    () => Pond.memory({ clock: 5 }),
    () => Pond.memory('fast'),
    () => new Pond(),
    () => new ManualClock('0'),
    () => new ManualClock(0).advance('1s'),
  ];
  for (const [i, fn] of typeErrors.entries()) {
    assert.throws(fn, TypeError, `case ${i}: ${fn}`);
  }
  assert.equal(pond.describe('t').partitions[0].endOffset, 0, 'nothing was written');
  assert.deepEqual(pond.topics(), ['t'], 'nothing was created');
  pond.close();
});

test('misuse never takes the process down', async (t) => {
  // Run a battery of abuse in a child process: it must exit normally.
  const { spawnSync } = require('node:child_process');
  const script = `
    const { Pond, ManualClock } = require(${JSON.stringify(require.resolve('logpond'))});
    const pond = Pond.memory();
    pond.createTopic('t');
    const abuse = [
      () => pond.send('t', 'x', { headers: new Proxy([], { get() { throw new Error('trap'); } }) }),
      () => pond.sendMany('t', [{ get value() { throw new Error('getter'); } }]),
      () => pond.sendMany('t', [{ get value() { pond.send('t', 'nested'); return 'outer'; } }]),
      () => pond.send('t', 'x', { key: new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 })) }),
      () => pond.read('t', 2 ** 31),
      () => pond.read('t', 2 ** 32),
      () => pond.read('t', 0, { maxRecords: 2 ** 60 }),
      () => pond.read('t', 0, { maxBytes: -5 }),
      () => pond.createTopic('big', { partitions: 1e12 }),
      () => pond.createTopic('big', { maxRecordBytes: 2 ** 40 }),
      () => pond.createTopic('big', { segmentBytes: 2 ** 60 }),
      () => new ManualClock(Number.MAX_SAFE_INTEGER).advance(Number.MAX_SAFE_INTEGER),
      () => Pond.open('/proc/definitely/not/writable'),
      () => Pond.open(''),
      () => pond.send('t', 'x'.repeat(2 * 1024 * 1024)),
      () => pond.close(),
      () => pond.send('t', 'after close'),
    ];
    let errors = 0;
    for (const f of abuse) {
      try { f(); } catch (e) { if (!(e instanceof Error)) throw new Error('non-Error thrown: ' + e); errors++; }
    }
    for (let i = 0; i < 200; i++) Pond.memory(); // dropped without close: finalizers close them
    global.gc?.();
    console.log('survived', errors);
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', cwd: tempDir(t) });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /survived \d+/);
});
