// Loads the native addon built by `npm run build` (napi build --platform),
// named `logpond.<platform>-<arch>[-<abi>].node` in the package root.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

function candidates() {
  const { platform, arch } = process;
  if (platform === 'linux') return [`linux-${arch}-gnu`, `linux-${arch}-musl`];
  if (platform === 'win32') return [`win32-${arch}-msvc`, `win32-${arch}-gnu`];
  return [`${platform}-${arch}`];
}

function load() {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const files = candidates().map((t) => path.join(root, `logpond.${t}.node`));
  const file = files.find((f) => fs.existsSync(f)) ?? files[0];
  try {
    return createRequire(import.meta.url)(file);
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

const native = load();
export default native;
