// The package loads as ESM (`import { Pond } from 'logpond'`) and as
// CommonJS (`require('logpond')`), with the same classes either way.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import logpondDefault, { Pond, ManualClock, LogpondError, TopicExists, Closed } from 'logpond';

const require = createRequire(import.meta.url);
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('ESM named and default imports are the CommonJS exports', () => {
  const cjs = require('logpond');
  assert.equal(Pond, cjs.Pond);
  assert.equal(ManualClock, cjs.ManualClock);
  assert.equal(TopicExists, cjs.TopicExists);
  assert.equal(logpondDefault, cjs);
  assert.deepEqual(Object.keys(logpondDefault).sort(), Object.keys(cjs).sort());
  const pond = Pond.memory();
  pond.createTopic('t');
  assert.throws(() => pond.createTopic('t'), cjs.TopicExists);
  assert.throws(() => pond.createTopic('t'), LogpondError);
  pond.close();
  assert.throws(() => pond.topics(), Closed);
});

test('an installed copy loads from both module systems in a fresh process', (t) => {
  // A consumer project with logpond in node_modules (a link to this package).
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'logpond-consumer-'));
  t.after(() => fs.rmSync(project, { recursive: true, force: true }));
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(packageDir, path.join(project, 'node_modules', 'logpond'), 'dir');
  const body = `
    const pond = Pond.memory();
    pond.createTopic('orders');
    pond.send('orders', 'hello', { key: 'k' });
    const [r] = pond.read('orders', 0);
    let code;
    try { pond.createTopic('orders'); } catch (e) { code = e instanceof TopicExists && e.code; }
    console.log(JSON.stringify({ value: r.value.toString(), key: r.key.toString(), code }));
    pond.close();
  `;
  fs.writeFileSync(path.join(project, 'esm.mjs'), `import { Pond, TopicExists } from 'logpond';\n${body}`);
  fs.writeFileSync(path.join(project, 'cjs.cjs'), `const { Pond, TopicExists } = require('logpond');\n${body}`);
  fs.writeFileSync(
    path.join(project, 'default.mjs'),
    `import logpond from 'logpond';\nconst { Pond, TopicExists } = logpond;\n${body}`,
  );
  for (const file of ['esm.mjs', 'cjs.cjs', 'default.mjs']) {
    const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    assert.equal(r.status, 0, `${file}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), { value: 'hello', key: 'k', code: 'TOPIC_EXISTS' }, file);
  }
});
