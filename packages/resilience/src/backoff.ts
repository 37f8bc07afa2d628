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
