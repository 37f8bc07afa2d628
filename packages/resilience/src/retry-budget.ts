/**
 * Retries that cannot multiply an outage: a retry budget shared by every call to one upstream, plus a
 * retry loop that only retries what is safe to retry.
 *
 * Hand-written rather than cockatiel's `retry()`: cockatiel retries per call with no budget shared across
 * calls, and the budget is the point (Finagle's RetryBudget; and "High-Concurrency System Design: The
 * Tradeoffs Nobody Warns You About", CodeWisdom: a retry budget of about 10% per layer, exponential backoff
 * with jitter, never retry 4xx). Backoff is ./backoff.ts (full jitter).
 */
import { fullJitterDelay, sleep, type BackoffOptions } from './backoff.ts'
import { withTimeout } from './timeout.ts'

export interface RetryBudgetOptions {
  /** Retries allowed per request deposited. Default 0.1 (CodeWisdom's "at most 10%"; Finagle's default is 0.2). */
  readonly ratio?: number
  /** Retries allowed per second however few requests there are (Finagle's reserve). Default 10. */
  readonly minPerSecond?: number
  /** Deposits and withdrawals expire after this. Default 10 s (Finagle). */
  readonly ttlMs?: number
  /** Milliseconds. Default Date.now. */
  readonly now?: () => number
}

export interface RetryBudget {
  /** One request was made (call once per original request, not per attempt). */
  deposit(): void
  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryWithdraw(): boolean
  /** Retries that could be made now. */
  readonly balance: number
}

/**
 * Finagle's TokenRetryBudget (twitter/finagle, finagle-core/src/main/scala/com/twitter/finagle/service/RetryBudget.scala;
 * defaults: 20% of requests, a floor of 10 retries/s, deposits live 10 s): a
 * deposit is worth 1000 units, a retry costs 1000/ratio, and a reserve of minPerSecond * ttl retries
 * is always there; deposits and withdrawals both leave a sliding window of `ttlMs` (10 slices). So over
 * any `ttlMs`, retries <= ratio * requests + minPerSecond * ttlMs/1000 (plus one slice of slack).
 */
export function createRetryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const { ratio = 0.1, minPerSecond = 10, ttlMs = 10_000, now = Date.now } = options
  if (!(ratio >= 0 && ratio <= 1000)) throw new RangeError(`ratio must be in [0, 1000], got ${ratio}`)
  if (!(minPerSecond >= 0)) throw new RangeError(`minPerSecond must be >= 0, got ${minPerSecond}`)
  const SCALE = 1000
  const depositAmount = ratio === 0 ? 0 : SCALE
  const withdrawalAmount = ratio === 0 ? 1 : Math.floor(SCALE / ratio)
  const reserve = minPerSecond * (ttlMs / 1000) * withdrawalAmount
  const window = createWindowedSum(ttlMs, 10, now)
  const count = () => window.sum() + reserve
  return {
    deposit() {
      window.add(depositAmount)
    },
    tryWithdraw() {
      if (count() < withdrawalAmount) return false
      window.add(-withdrawalAmount)
      return true
    },
    get balance() {
      return Math.max(0, Math.floor(count() / withdrawalAmount))
    },
  }
}

/** Finagle's WindowedAdder: a sum over the last `windowMs`, kept in `slices` buckets. */
function createWindowedSum(windowMs: number, slices: number, now: () => number) {
  const sliceMs = windowMs / slices
  const ring = Array.from({ length: slices }, () => ({ index: -1, value: 0 }))
  const current = () => Math.floor(now() / sliceMs)
  return {
    add(n: number): void {
      const index = current()
      const slot = ring[index % slices]!
      if (slot.index !== index) {
        slot.index = index
        slot.value = 0
      }
      slot.value += n
    },
    sum(): number {
      const oldest = current() - slices + 1
      let total = 0
      for (const slot of ring) if (slot.index >= oldest) total += slot.value
      return total
    },
  }
}

/**
 * True for errors that say the request itself was wrong (HTTP 4xx, from `statusCode` or `status`):
 * retrying sends the same wrong request again. 429 included (the CodeWisdom article: never retry 4xx); a client
 * told to slow down must not come straight back.
 */
export function isClientError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as { statusCode?: unknown; status?: unknown }
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.status
  return typeof status === 'number' && status >= 400 && status < 500
}

export interface RetryInfo {
  /** The attempt that failed, 1-based. */
  readonly attempt: number
  readonly error: unknown
  readonly delayMs: number
}

export type RetryGiveUp = 'not_idempotent' | 'client_error' | 'not_retryable' | 'max_attempts' | 'budget_exhausted' | 'aborted'

export interface RetryOptions {
  readonly budget: RetryBudget
  /** Attempts in total, the first included. Default 3 (Google SRE: at most 3 attempts per request). */
  readonly maxAttempts?: number
  readonly backoff?: BackoffOptions
  /** Which errors are worth another attempt (a 4xx never is). Default: all but 4xx. */
  readonly isRetryable?: (error: unknown) => boolean
  /** Only idempotent calls are retried: a retried POST /orders could create two orders. */
  readonly idempotent: boolean
  /**
   * Errors that prove the request never left (a refused connection): such an attempt may be retried even
   * when the call is not idempotent, since the other side saw nothing. Default: none.
   */
  readonly neverSent?: (error: unknown) => boolean
  /** The caller's signal: stops retrying and aborts the attempt in flight. */
  readonly signal?: AbortSignal
  /** Latency budget for all attempts and waits together. */
  readonly timeoutMs?: number
  readonly random?: () => number
  /** Metrics hooks. */
  readonly onRetry?: (info: RetryInfo) => void
  readonly onGiveUp?: (reason: RetryGiveUp, error: unknown) => void
}

/**
 * Calls `fn` until it succeeds or a rule says stop: not idempotent, a 4xx, not retryable, `maxAttempts`
 * reached, the budget spent, or the signal/latency budget gone. Between attempts it sleeps a full-jitter
 * delay. The last error is rethrown as it was.
 */
export async function retryWithBudget<T>(fn: (signal: AbortSignal, attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { timeoutMs, signal } = options
  if (timeoutMs === undefined) return retryLoop(fn, options, signal ?? new AbortController().signal)
  return withTimeout((inner) => retryLoop(fn, options, inner), timeoutMs, signal)
}

async function retryLoop<T>(fn: (signal: AbortSignal, attempt: number) => Promise<T>, options: RetryOptions, signal: AbortSignal): Promise<T> {
  const {
    budget,
    maxAttempts = 3,
    backoff = { baseMs: 25, capMs: 1_000 },
    isRetryable = () => true,
    idempotent,
    neverSent = () => false,
    random = Math.random,
    onRetry,
    onGiveUp,
  } = options
  budget.deposit()
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(signal, attempt)
    } catch (error) {
      const reason = giveUpReason(error, attempt)
      if (reason) {
        onGiveUp?.(reason, error)
        throw error
      }
      const delayMs = fullJitterDelay(attempt - 1, backoff, random)
      onRetry?.({ attempt, error, delayMs })
      await sleep(delayMs, signal)
    }
  }

  function giveUpReason(error: unknown, attempt: number): RetryGiveUp | undefined {
    if (signal.aborted) return 'aborted'
    if (!idempotent && !neverSent(error)) return 'not_idempotent'
    if (isClientError(error)) return 'client_error'
    if (!isRetryable(error)) return 'not_retryable'
    if (attempt >= maxAttempts) return 'max_attempts'
    if (!budget.tryWithdraw()) return 'budget_exhausted'
    return undefined
  }
}
