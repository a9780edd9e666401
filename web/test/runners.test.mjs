// logpond-web in Node-based test runners: vitest and jest run the example
// tests of test/runners/ (memory ponds, and IndexedDB ponds through
// fake-indexeddb), as a frontend developer's suite would. The README shows
// those same files, checked here to stay verbatim.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const runners = path.join(web, 'test/runners');

/**
 * Runs node with `args` in the package directory; every run is bounded
 * (killed with SIGKILL after two minutes).
 * @param {string[]} args @param {Record<string, string>} [env]
 * @returns {Promise<{ code: number | null, out: string }>}
 */
function node(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: web, env: { ...process.env, NO_COLOR: '1', CI: '1', ...env }, timeout: 120_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? null) : 0, out: `${stdout}\n${stderr}` }),
    );
  });
}

test('vitest runs a suite that imports logpond-web', async () => {
  const { code, out } = await node(['node_modules/vitest/vitest.mjs', 'run', '--root', runners]);
  assert.equal(code, 0, out);
  assert.match(out, /Tests\s+2 passed/, out);
});

test('jest (ESM) runs a suite that imports logpond-web', async () => {
  const { code, out } = await node(
    ['node_modules/jest/bin/jest.js', '--config', path.join(runners, 'jest.config.mjs'), '--rootDir', runners],
    { NODE_OPTIONS: '--experimental-vm-modules' },
  );
  assert.equal(code, 0, out);
  assert.match(out, /Tests:\s+1 passed, 1 total/, out);
});

test('the README shows the example tests as they run', async () => {
  const readme = await readFile(path.join(web, 'README.md'), 'utf8');
  for (const file of ['orders.vitest.test.js', 'orders.jest.mjs', 'jest.config.mjs']) {
    const text = (await readFile(path.join(runners, file), 'utf8')).trim();
    assert.ok(readme.includes(text), `README.md shows test/runners/${file} verbatim`);
  }
});
