/**
 * Expiry arithmetic: TTL jitter against synchronized expiry (an avalanche of misses when many keys were
 * written at once), and XFetch probabilistic early expiration against the stampede on one hot key.
 */

/**
 * `ttlMs` spread uniformly over ±`ratio` (0.1 → 90%..110%), so keys written in the same instant
 * (a cache warm-up, a bulk import) do not all expire in the same instant.
 */
export function jitterTtl(ttlMs: number, ratio: number, random: () => number = Math.random): number {
  if (ratio <= 0) return ttlMs
  return Math.max(1, Math.round(ttlMs * (1 + ratio * (2 * random() - 1))))
}

export interface XFetchEntry {
  /** Epoch ms after which the value is no longer fresh. */
  readonly expiresAt: number
  /** How long (ms) the last recomputation took: Vattani et al.'s delta. */
  readonly deltaMs: number
}

/**
 * XFetch (Vattani, Chierichetti & Lowenstein, "Optimal Probabilistic Cache Stampede Prevention",
 * PVLDB 8(8), 2015): recompute early when `now - delta * beta * ln(rand()) >= expiry`. As ln(rand()) is
 * negative, each read refreshes early with probability exp(-(expiry - now) / (delta * beta)): rare while
 * far from expiry, likely within the last few deltas, so under steady reads one reader recomputes before
 * the value expires and no reader ever sees the miss. beta = 1 is the paper's optimum; > 1 is earlier.
 */
export function shouldRefreshEarly(entry: XFetchEntry, now: number, beta = 1, random: () => number = Math.random): boolean {
  // 1 - random() lies in (0, 1]: ln(0) would make every read refresh.
  return now - entry.deltaMs * beta * Math.log(1 - random()) >= entry.expiresAt
}
