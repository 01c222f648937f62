// A readonly model type made writable for the one function that builds it
// key by key (optional keys assigned in place instead of spread in: a
// conditional spread is a runtime copy, and the builders run per definition).

/** `T` with its readonly modifiers dropped. */
export type Building<T> = { -readonly [K in keyof T]: T[K] };
