/**
 * Rate limiting when Redis is down: fail open onto an in-process limiter instead of failing closed (a
 * Redis outage would become a full outage of the sale) or failing wide open (bots would get everything).
 * Decision and consequences: docs/adr/0013-rate-limits-fail-open-to-a-local-limiter.md.
 */
import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel'
import type { RateLimitChain, RateLimiter, RateLimitPolicy } from './gcra.ts'
import { processLoopStall, type LoopStallClock } from './loop-stall.ts'
import { isDeadlineExceeded, withLoopAwareDeadline } from './timeout.ts'

export interface LocalLimiterOptions extends RateLimitPolicy {
  /** Subjects remembered; the least recently used is forgotten first (it comes back with a full bucket). Default 10,000. */
  readonly maxKeys?: number
  /** Milliseconds. Default performance.now. */
  readonly now?: () => number
}

/**
 * A token bucket per key in this process, with the same policy shape and answers as the GCRA limiter
 * (capacity burst + 1, one token back every period/ratePerPeriod) — so for one process the two agree.
 * Give it the fleet's rate divided by the number of gateway instances: each instance limits alone.
 */
export function createLocalLimiter(options: LocalLimiterOptions): RateLimiter {
  const { name, ratePerPeriod, periodMs, burst, maxKeys = 10_000, now = () => performance.now() } = options
  const emissionMs = periodMs / ratePerPeriod
  const capacity = burst + 1
  // Map iteration order is insertion order: delete + set moves a key to the young end (LRU).
  const buckets = new Map<string, { tokens: number; at: number }>()
  const policy: RateLimitPolicy = { name, ratePerPeriod, periodMs, burst }

  return {
    policy,
    async check(key, cost = 1) {
      const t = now()
      const b = buckets.get(key) ?? { tokens: capacity, at: t }
      buckets.delete(key)
      b.tokens = Math.min(capacity, b.tokens + (t - b.at) / emissionMs)
      b.at = t
      const allowed = b.tokens + 1e-9 >= cost
      if (allowed) b.tokens -= cost
      buckets.set(key, b)
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!)
      const remaining = Math.max(0, Math.floor(b.tokens + 1e-9))
      const missing = capacity - b.tokens
      return {
        allowed,
        remaining,
        retryAfterMs: allowed ? 0 : cost > capacity ? capacity * emissionMs : (cost - b.tokens) * emissionMs,
        resetAfterMs: missing * emissionMs,
        limit: capacity,
        nextAfterMs: missing <= 1e-9 ? 0 : (remaining + 1 - b.tokens) * emissionMs,
        source: 'local',
      }
    },
  }
}

export interface FallbackLimiterOptions {
  /**
   * A Redis check that has not answered after this much of the process's responsive time counts as down
   * (time the event loop was stalled is not counted: a busy gateway is not an unreachable Redis). Default 50 ms.
   */
  readonly timeoutMs?: number
  /** After a failure, go straight to the local limiter for this long before trying Redis again. Default 1 s. */
  readonly retryPrimaryAfterMs?: number
  /**
   * For a log line and a metric: the primary failed and `local` answered. `reason`: `timeout` (no answer in
   * `timeoutMs` of responsive time) or `error` (Redis refused or the connection is down). Count fallbacks
   * by `result.source === 'local'`.
   */
  readonly onPrimaryError?: (error: unknown, reason: 'timeout' | 'error') => void
  /** Default: the process's loop-stall clock. */
  readonly stall?: LoopStallClock
}

/**
 * Asks `primary` (Redis GCRA); when it errors or is slower than `timeoutMs`, answers from `local`. A
 * cockatiel breaker (opens on the first failure, half-opens after `retryPrimaryAfterMs`) keeps every request
 * during an outage from paying the timeout: while it is open the local limiter answers at once.
 */
export function createFallbackLimiter(primary: RateLimiter, local: RateLimiter, options: FallbackLimiterOptions = {}): RateLimiter {
  const fallback = createFallback(options)
  return {
    policy: primary.policy,
    check: (key, cost = 1) =>
      fallback(
        () => primary.check(key, cost),
        () => local.check(key, cost),
      ),
  }
}

/** The same for a chain of policies (one Redis script per request, ADR 0022): `local` answers while Redis is down. */
export function createFallbackChain(primary: RateLimitChain, local: RateLimitChain, options: FallbackLimiterOptions = {}): RateLimitChain {
  const fallback = createFallback(options)
  return {
    policies: primary.policies,
    check: (subjects) =>
      fallback(
        () => primary.check(subjects),
        () => local.check(subjects),
      ),
  }
}

function createFallback({ timeoutMs = 50, retryPrimaryAfterMs = 1_000, onPrimaryError, stall = processLoopStall() }: FallbackLimiterOptions) {
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: retryPrimaryAfterMs, breaker: new ConsecutiveBreaker(1) })
  return async <T>(primary: () => Promise<T>, local: () => Promise<T>): Promise<T> => {
    try {
      return await breaker.execute(() => withLoopAwareDeadline(primary(), timeoutMs, { stall }))
    } catch (error) {
      if (error instanceof RangeError) throw error // a bad argument, not an outage
      if (!(error instanceof BrokenCircuitError)) {
        const timedOut = isDeadlineExceeded(error)
        onPrimaryError?.(
          timedOut ? new Error(`rate-limit check: no answer from Redis within ${timeoutMs} ms of responsive time`, { cause: error }) : error,
          timedOut ? 'timeout' : 'error',
        )
      }
      return local()
    }
  }
}
