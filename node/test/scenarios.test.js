'use strict';
// Runs every cross-language conformance scenario (tests/scenarios/*.json,
// described in tests/scenarios/README.md) against the Node package, each
// on a fresh pond directory, with the runner the browser package uses too
// (js/test/scenarios.mjs).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const logpond = require('logpond');
const { tempDir } = require('./helpers.js');
const { runScenario } = require('../../js/test/scenarios.mjs');

const { Pond } = logpond;
const dir = path.resolve(__dirname, '..', '..', 'tests', 'scenarios');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the scenarios are there', () => {
  for (const kind of ['log-', 'group-', 'queue-']) {
    assert.ok(files.filter((f) => f.startsWith(kind)).length >= 10, `found ${files.join(', ')} in ${dir}`);
  }
});

for (const file of files) {
  const scenario = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  test(`scenario ${scenario.name}: ${scenario.description}`, async (t) => {
    const pondDir = tempDir(t);
    const failures = await runScenario(logpond, scenario, {
      open: async (clock) => Pond.open(pondDir, { clock }),
      reopen: async (pond, clock) => {
        pond.close();
        return Pond.open(pondDir, { clock });
      },
      dispose: async (pond) => pond.close(),
    });
    assert.deepEqual(failures, []);
  });
}
