// The package's `bin` (`npx logpond`): the one Rust command line, run as a
// user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'logpond.js');

function cli(args, input = '') {
  return spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 60_000 });
}

test('the bin sends and tails through the Rust command line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logpond-cli-'));
  try {
    const pond = path.join(dir, 'pond');
    assert.equal(cli(['--pond', pond, 'create-topic', 'orders']).status, 0);
    assert.equal(cli(['--pond', pond, 'send', 'orders', '--key', 'k'], 'a\nb\n').status, 0);
    const out = cli(['--pond', pond, 'tail', 'orders', '--from-beginning', '--json']);
    assert.equal(out.status, 0);
    const records = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => [r.offset, r.key, r.value]), [[0, 'k', 'a'], [1, 'k', 'b']]);
    const bad = cli(['--pond', path.join(dir, 'missing'), 'topics']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^logpond: [^\n]*\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
