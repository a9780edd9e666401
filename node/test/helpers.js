'use strict';
// Shared by the tests.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** A fresh temporary directory, removed after the test. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logpond-node-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Bytes of a Buffer as a plain string, for compact assertions. */
function str(b) {
  return b === null ? null : Buffer.from(b).toString('utf8');
}

module.exports = { tempDir, str };
