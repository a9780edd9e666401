// logpond for Node.js (ESM entry): the same objects as the CommonJS entry,
// so `instanceof` holds whichever way a module loaded the package.
import logpond from './index.js';

export * from './lib/index.js';
export default logpond;
