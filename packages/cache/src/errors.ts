/** Errors of this package, with stable codes (never matched by message text). */
export type CacheErrorCode =
  /** Redis did not take the invalidation (tombstone or pub/sub message); L1 of this process was still dropped. */
  | 'CACHE_ERR_INVALIDATION_FAILED'
  /** Two open caches with one name on one metrics registry would mix their series. */
  | 'CACHE_ERR_DUPLICATE_NAME'

export class CacheError extends Error {
  readonly code: CacheErrorCode

  constructor(code: CacheErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CacheError'
    this.code = code
  }
}
