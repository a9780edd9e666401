// Loads the wasm module once (a top-level await): every module of the
// package imports the wasm classes from here, so none runs before the
// module is ready, and users never call an `init()`.

import init, { WasmPond, WasmLoader, WasmClock, pageSize, errorKinds, topicOptions } from '../pkg/logpond_wasm.js';

await init({ module_or_path: new URL('../pkg/logpond_wasm_bg.wasm', import.meta.url) });

export { WasmPond, WasmLoader, WasmClock, pageSize, errorKinds, topicOptions };
