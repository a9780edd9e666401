// Test helpers: headless Chromium (apt's /usr/bin/chromium driven by
// playwright-core) on a persistent profile, and the static server.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../scripts/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium on `profile` (a directory kept between launches). @param {string} profile */
export function launch(profile) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
  });
}

/**
 * For a test file whose tests all run in one harness page: opens it before
 * them (handing it to `onPage`) and, after them, checks that it logged no
 * errors and closes everything.
 * @param {(page: import('playwright-core').Page) => void} onPage
 */
export function harnessPage(onPage) {
  /** @type {Awaited<ReturnType<typeof setup>> | undefined} */
  let env;
  /** @type {import('playwright-core').Page | undefined} */
  let page;
  before(async () => {
    env = await setup();
    page = await env.page();
    onPage(page);
  });
  after(async () => {
    // Close first: a failed check must not leave the browser (and the run) hanging.
    const errors = /** @type {any} */ (page)?.errors ?? [];
    await env?.close();
    assert.deepEqual(errors, []);
  });
}

/**
 * A server, a fresh profile and a browser on it; `page()` opens the test
 * harness (which exposes the package as `window.logpond`).
 */
export async function setup() {
  const server = await startServer();
  const profile = await mkdtemp(path.join(os.tmpdir(), 'logpond-web-'));
  let context = await launch(profile);
  const env = {
    server,
    profile,
    get context() {
      return context;
    },
    /** Opens a page on `path` (default the harness) and waits for the package. */
    async page(p = '/test/pages/harness.html') {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(new Error(m.text()));
      });
      /** @type {any} */ (page).errors = errors;
      await page.goto(server.url + p);
      if (p.includes('harness')) await page.waitForFunction(() => /** @type {any} */ (window).ready === true);
      return page;
    },
    /** Closes the browser and launches it again on the same profile. */
    async relaunch() {
      await context.close();
      context = await launch(profile);
    },
    async close() {
      await context.close();
      await server.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
  return env;
}
