// logpond for browsers: an embeddable event broker (partitioned logs with
// consumer groups, and queues) running in a tab or a worker, on IndexedDB.
//
// The wasm module initialises once, on import (a top-level await in
// ./wasm.js): users never call an `init()`.

export { Pond } from './pond.js';
export { ManualClock } from './clock.js';
export { Consumer } from './consumer.js';
export { Queue, Delivery, Subscription } from './queue.js';
export {
  LogpondError,
  TopicExists,
  TopicNotFound,
  InvalidName,
  InvalidArgument,
  RecordTooLarge,
  Backpressure,
  OffsetOutOfRange,
  Corruption,
  PondLocked,
  Closed,
  CommitFailed,
  LeaseExpired,
  IoError,
} from './errors.js';
