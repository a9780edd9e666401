// Tokens that let only the pond construct consumers and queues.
export const kConsumer = Symbol('logpond.consumer');
export const kQueue = Symbol('logpond.queue');
