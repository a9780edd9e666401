// The wasm module's size is a budget: a change that grows the gzipped
// module past it fails here, so later features cannot silently undo the
// size work. Lower the budget when the module shrinks; raise it only on
// purpose, saying why in the commit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

/** Gzipped bytes (level 9, as a server would send it) the module may take. */
const BUDGET_GZIPPED = 285 * 1024;

test(`the wasm module gzips to at most ${BUDGET_GZIPPED / 1024} KiB`, async () => {
  const module = await readFile(new URL('../pkg/logpond_wasm_bg.wasm', import.meta.url));
  const gzipped = gzipSync(module, { level: 9 }).length;
  console.log(`wasm module: ${(module.length / 1024).toFixed(0)} KiB, gzipped ${(gzipped / 1024).toFixed(1)} KiB`);
  assert.ok(gzipped <= BUDGET_GZIPPED, `gzipped ${gzipped} bytes, budget ${BUDGET_GZIPPED}`);
  // A built module has no debug info or names left to strip.
  assert.ok(!module.includes(Buffer.from('.debug_info')), 'the module carries DWARF');
});
