'use strict';
// logpond for Node.js (CommonJS entry; index.mjs re-exports it for ESM).

const { Pond } = require('./lib/pond');
const { ManualClock } = require('./lib/clock');
const { Consumer } = require('./lib/consumer');
const { Queue, Delivery, Subscription } = require('./lib/queue');
const errors = require('./lib/errors');

module.exports = {
  Pond,
  ManualClock,
  Consumer,
  Queue,
  Delivery,
  Subscription,
  LogpondError: errors.LogpondError,
  TopicExists: errors.TopicExists,
  TopicNotFound: errors.TopicNotFound,
  InvalidName: errors.InvalidName,
  InvalidArgument: errors.InvalidArgument,
  RecordTooLarge: errors.RecordTooLarge,
  Backpressure: errors.Backpressure,
  OffsetOutOfRange: errors.OffsetOutOfRange,
  Corruption: errors.Corruption,
  PondLocked: errors.PondLocked,
  Closed: errors.Closed,
  CommitFailed: errors.CommitFailed,
  LeaseExpired: errors.LeaseExpired,
  IoError: errors.IoError,
};
// What TypeScript's CommonJS view of `import logpond from 'logpond'` reads.
Object.defineProperty(module.exports, 'default', { value: module.exports });
