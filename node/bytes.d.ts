// The byte types of logpond for Node.js, for the shared declarations
// (shared.d.ts, copied from the repository's js/index.d.ts at build time).

/// <reference types="node" />

/** Bytes a producer hands in: utf-8 for strings. */
export type BytesInput = Buffer | Uint8Array | string;

/** Bytes of a record as they come back. */
export type RecordBytes = Buffer;

/** What a call that changes the pond returns (synchronous in Node). */
export type Written<T> = T;
