/**
 * Request coalescing, after Go's golang.org/x/sync/singleflight: while a call for a key is in flight,
 * later callers for that key get the same promise — one execution, shared result and shared error — and
 * nothing is kept once it settles (the next call runs again). Written by hand: it is a Map of promises.
 */
export interface Flight<V> {
  readonly result: Promise<V>
  /** True when this caller joined a call already in flight (a coalesced waiter). */
  readonly shared: boolean
}

export interface Singleflight<V> {
  run(key: string, fn: () => Promise<V>): Flight<V>
  /**
   * Later calls for `key` start a new execution; callers already waiting keep the old one. Used on
   * invalidation, so that nobody who asks after a write joins a load that began before it.
   */
  forget(key: string): void
  /** Keys with a call in flight. */
  readonly size: number
}

export function createSingleflight<V>(): Singleflight<V> {
  const calls = new Map<string, Promise<V>>()
  return {
    run(key, fn) {
      const inFlight = calls.get(key)
      if (inFlight) return { result: inFlight, shared: true }
      const result = Promise.resolve().then(fn) // a synchronous throw becomes a rejection too
      calls.set(key, result)
      const settle = (): void => {
        // Only our own entry: after forget() a newer call may own the key.
        if (calls.get(key) === result) calls.delete(key)
      }
      result.then(settle, settle)
      return { result, shared: false }
    },
    forget(key) {
      calls.delete(key)
    },
    get size() {
      return calls.size
    },
  }
}
