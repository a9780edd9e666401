// Copies the shared JS layer (../js/) into src/shared/ and builds the wasm
// module and its JS glue into web/pkg/ (both gitignored):
// cargo (release, wasm32-unknown-unknown) then wasm-bindgen 0.2.130
// (`--target web`: an ES module that loads the .wasm by URL).
// No wasm-pack (see TOOLCHAIN.md).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const web = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const root = path.dirname(web);
const run = (/** @type {string} */ cmd, /** @type {string[]} */ args) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run('node', [path.join(root, 'js/copy.mjs'), path.join(web, 'src/shared'), path.join(web, 'shared.d.ts')]);
const version = execFileSync('wasm-bindgen', ['--version'], { encoding: 'utf8' }).trim();
if (!version.includes('0.2.130')) {
  throw new Error(`wasm-bindgen CLI 0.2.130 is needed (the crate is pinned to it), found: ${version}`);
}
// Cargo writes to CARGO_TARGET_DIR when it is set (a shared target dir).
const target = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
run('cargo', ['build', '-p', 'logpond-wasm', '--target', 'wasm32-unknown-unknown', '--release']);
run('wasm-bindgen', [
  '--target', 'web',
  '--weak-refs',
  '--out-dir', path.join(web, 'pkg'),
  '--out-name', 'logpond_wasm',
  path.join(target, 'wasm32-unknown-unknown/release/logpond_wasm.wasm'),
]);
