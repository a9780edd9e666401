// The public API both JavaScript packages share (all but `Pond`, which
// each package extends with how a pond is opened, flushed and closed).
// This folder is the one JS layer of logpond: the packages copy it in at
// build time (into `node/lib/shared/` and `web/src/shared/`), beside the
// `backend.js` each package provides.

export { ManualClock } from './clock.js';
export { Consumer } from './consumer.js';
export { Queue, Delivery } from './queue.js';
export { Subscription } from './subscription.js';
export * from './errors.js';
