/**
 * Hot-parameter flow control in front of the gate (Sentinel's "hot parameter" rule, applied to the sale
 * id): a token bucket per sale in this process. During a spike the hottest sale's attempts beyond the rate
 * get a fast 429 before they reach Redis, so one SKU cannot saturate the Redis thread that every sale's
 * gate shares. Per instance on purpose: the gateway holds the fleet-wide per-user and per-IP limits in
 * Redis; this one protects Redis itself, so it must not cost a Redis call.
 */
export interface HotSaleLimiterOptions {
  /** Tokens added per second, per sale. */
  readonly ratePerSecond: number
  /** Bucket capacity: the burst a sale may take at once. */
  readonly burst: number
  /** Milliseconds; injectable for tests. */
  readonly now: () => number
  /** Sales remembered; the least recently used is forgotten first (it comes back with a full bucket). */
  readonly maxSales?: number
}

export interface HotSaleDecision {
  readonly allowed: boolean
  /** When not allowed: how long until one token is back. */
  readonly retryAfterMs: number
}

export interface HotSaleLimiter {
  take(saleId: string): HotSaleDecision
}

export function createHotSaleLimiter({ ratePerSecond, burst, now, maxSales = 10_000 }: HotSaleLimiterOptions): HotSaleLimiter {
  if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('ratePerSecond must be > 0 and burst >= 1')
  const msPerToken = 1000 / ratePerSecond
  // Map iteration order is insertion order: delete + set moves a sale to the young end (LRU). The sale id
  // comes from the request body before it is known to exist, so the map must stay bounded.
  const buckets = new Map<string, { tokens: number; at: number }>()
  return {
    take(saleId) {
      const t = now()
      const bucket = buckets.get(saleId) ?? { tokens: burst, at: t }
      buckets.delete(saleId)
      bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, t - bucket.at) / msPerToken)
      bucket.at = t
      const allowed = bucket.tokens >= 1
      if (allowed) bucket.tokens -= 1
      buckets.set(saleId, bucket)
      if (buckets.size > maxSales) buckets.delete(buckets.keys().next().value as string)
      return { allowed, retryAfterMs: allowed ? 0 : Math.ceil((1 - bucket.tokens) * msPerToken) }
    },
  }
}
