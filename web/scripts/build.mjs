// Copies the shared JS layer (../js/) into src/shared/ and builds the wasm
// module and its JS glue into web/pkg/ (both gitignored):
// cargo (the `wasm` profile: small, LTO; wasm32-unknown-unknown), then
// wasm-bindgen 0.2.130 (`--target web`: an ES module that loads the .wasm
// by URL), then wasm-opt -Oz (npm `binaryen`, a dev dependency; never
// Debian's, see TOOLCHAIN.md). No wasm-pack. The gzipped module's size is
// a budget: test/size.test.mjs.

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
run('cargo', ['build', '-p', 'logpond-wasm', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm']);
run('wasm-bindgen', [
  '--target', 'web',
  '--weak-refs',
  '--out-dir', path.join(web, 'pkg'),
  '--out-name', 'logpond_wasm',
  path.join(target, 'wasm32-unknown-unknown/wasm/logpond_wasm.wasm'),
]);
// The features wasm-opt may use are read from the module's own
// target_features section (what rustc enabled).
const module = path.join(web, 'pkg/logpond_wasm_bg.wasm');
run(path.join(web, 'node_modules/.bin/wasm-opt'), ['-Oz', module, '-o', module]);
