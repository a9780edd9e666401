// logpond for browsers: an embeddable event broker (partitioned logs with
// consumer groups, and queues) running in a tab or a worker, on IndexedDB.
// The API is the shared JS layer (src/shared/, copied from the
// repository's js/ at build time) and the browser's Pond.
//
// The wasm module initialises once, on import (a top-level await in
// ./wasm.js): users never call an `init()`.

export * from './shared/index.js';
export { Pond } from './pond.js';
