/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 *   ceiling = min(capMs, baseMs * 2^attempt), delay = uniform(0, ceiling).
 * Full jitter spreads retries of many clients that failed together, so they do not return together.
 */
export interface BackoffOptions {
  /** Ceiling for the first retry (attempt 0). */
  readonly baseMs: number
  /** Largest ceiling, however many attempts. */
  readonly capMs: number
}

/** The delay before retry number `attempt` (0-based). `random` is injectable for tests. */
export function fullJitterDelay(attempt: number, { baseMs, capMs }: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`)
  // 2^attempt overflows to Infinity for large attempts; min() keeps the cap.
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt)
  return Math.floor(random() * ceiling)
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A Retry-After (RFC 9110 §10.2.3, whole seconds) for a refusal, from how long the refuser expects it to
 * take until it could serve the client (`expectedMs`), spread uniformly over [base, 2 × base] seconds where
 * base = max(1, ceil(expectedMs / 1000)): clients refused together in one burst come back spread over that
 * range instead of as one wave (the same reasoning as full jitter above).
 */
export function jitteredRetryAfterSeconds(expectedMs: number | undefined, random: () => number = Math.random): number {
  const base = Math.max(1, Math.ceil((expectedMs ?? 0) / 1000))
  return base + Math.min(base, Math.floor(random() * (base + 1)))
}
