// The byte types of logpond-web, for the shared declarations (shared.d.ts,
// copied from the repository's js/index.d.ts at build time).

/** Bytes a producer hands in: utf-8 for strings. */
export type BytesInput = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Bytes of a record as they come back. */
export type RecordBytes = Uint8Array;

/** What a call that changes the pond returns: a Promise, resolved once the change is in IndexedDB. */
export type Written<T> = Promise<T>;
