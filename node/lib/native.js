'use strict';
// Loads the native addon built by `npm run build` (napi build --platform),
// named `logpond.<platform>-<arch>[-<abi>].node` in the package root.

const fs = require('node:fs');
const path = require('node:path');

function candidates() {
  const { platform, arch } = process;
  if (platform === 'linux') return [`linux-${arch}-gnu`, `linux-${arch}-musl`];
  if (platform === 'win32') return [`win32-${arch}-msvc`, `win32-${arch}-gnu`];
  return [`${platform}-${arch}`];
}

function load() {
  const root = path.join(__dirname, '..');
  const files = candidates().map((t) => path.join(root, `logpond.${t}.node`));
  const file = files.find((f) => fs.existsSync(f)) ?? files[0];
  try {
    return require(file);
  } catch (e) {
    const err = new Error(
      `logpond: cannot load the native addon ${file} (${e instanceof Error ? e.message : e}). ` +
        'Build it with `npm run build` in the package directory (needs a Rust toolchain).',
      { cause: e },
    );
    /** @type {any} */ (err).code = 'ERR_LOGPOND_NATIVE';
    throw err;
  }
}

module.exports = load();
