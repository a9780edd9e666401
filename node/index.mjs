// logpond for Node.js (ESM entry): the same objects as the CommonJS entry,
// so `instanceof` holds whichever way a module loaded the package.
import logpond from './index.js';

export const {
  Pond,
  ManualClock,
  Consumer,
  Queue,
  Delivery,
  Subscription,
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
} = logpond;

export default logpond;
