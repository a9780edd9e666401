// The package bundled by Vite (production build): the wasm file is emitted
// as an asset, the top-level await initialisation works, and the bundle
// runs in the browser.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { launch } from './browser.mjs';
import { startServer } from '../scripts/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.dirname(here);
/** @type {string[]} */
const cleanup = [];

after(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

test('a Vite build of an app importing logpond-web runs in the browser', async () => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'logpond-vite-'));
  const profile = await mkdtemp(path.join(os.tmpdir(), 'logpond-vite-profile-'));
  cleanup.push(outDir, profile);
  await build({
    root: path.join(here, 'vite-app'),
    logLevel: 'warn',
    configFile: false,
    // The package itself, resolved by name through its package.json.
    resolve: { alias: { 'logpond-web': web } },
    build: { outDir, emptyOutDir: true },
  });
  const assets = await readdir(path.join(outDir, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `a .wasm asset in ${assets}`);
  const server = await startServer(outDir);
  const context = await launch(profile);
  try {
    const page = await context.newPage();
    /** @type {Error[]} */
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => /** @type {any} */ (window).result !== undefined, null, { timeout: 20_000 });
    const result = await page.evaluate(() => /** @type {any} */ (window).result);
    assert.deepEqual(result, { end: 1, code: 'TOPIC_EXISTS' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
});
