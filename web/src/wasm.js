// Loads the wasm module once (a top-level await): every module of the
// package imports the wasm classes from here, so none runs before the
// module is ready, and users never call an `init()`.

import init, { WasmPond, WasmLoader, WasmClock, pageSize, errorKinds, topicOptions, holderClaim } from '../pkg/logpond_wasm.js';

const url = new URL('../pkg/logpond_wasm_bg.wasm', import.meta.url);
// Node (test runners such as vitest and jest) has no fetch for file: URLs:
// read the module from disk there. The specifier is a variable so that
// bundlers leave the import alone in browser builds.
const nodeFs = 'node:fs/promises';
const inNode = url.protocol === 'file:' && typeof globalThis.process?.versions?.node === 'string';
await init({ module_or_path: inNode ? await (await import(/* @vite-ignore */ nodeFs)).readFile(url) : url });

export { WasmPond, WasmLoader, WasmClock, pageSize, errorKinds, topicOptions, holderClaim };
