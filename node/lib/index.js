// logpond for Node.js: the shared JS layer (lib/shared/, copied from the
// repository's js/ at build time) and Node's Pond.

export * from './shared/index.js';
export { Pond } from './pond.js';
