'use strict';
// logpond for Node.js (CommonJS entry; index.mjs re-exports it for ESM).
// The package's modules are ES modules (lib/): Node >= 20.19 requires them.

module.exports = { ...require('./lib/index.js') };
// What TypeScript's CommonJS view of `import logpond from 'logpond'` reads.
Object.defineProperty(module.exports, 'default', { value: module.exports });
