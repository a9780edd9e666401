'use strict';
// Runs every ```js block of README.md in a fresh process, in a consumer
// project that has this package in its node_modules: the docs stay true.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const packageDir = path.resolve(__dirname, '..');
const readme = fs.readFileSync(path.join(packageDir, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

test('README has examples', () => {
  assert.ok(blocks.length >= 1);
});

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs`, (t) => {
    const project = tempDir(t);
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(packageDir, path.join(project, 'node_modules', 'logpond'), 'dir');
    fs.writeFileSync(path.join(project, 'example.js'), code);
    const r = spawnSync(process.execPath, ['example.js'], { cwd: project, encoding: 'utf8' });
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${r.stderr}`);
  });
});
