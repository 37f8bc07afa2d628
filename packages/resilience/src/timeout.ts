/**
 * A latency budget for one call, on cockatiel's `TimeoutPolicy` (aggressive strategy): the caller gets
 * an answer at the deadline even if `fn` ignores its signal, and `fn`'s signal is aborted so well-behaved
 * work (fetch, pg, ioredis with a signal) stops. What we add: cockatiel reports a parent abort and its own
 * deadline with the same `TaskCancelledError`; here the deadline is a `DeadlineExceededError` with a code
 * (a gateway answers 504), and a parent abort rethrows the parent's reason. The signal is aborted at the
 * deadline or by the parent, not after `fn` settles (see TIMEOUT_OPTIONS).
 */
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel'

export class DeadlineExceededError extends Error {
  readonly code = 'DEADLINE_EXCEEDED'
  readonly timeoutMs: number

  constructor(timeoutMs: number, options?: ErrorOptions) {
    super(`deadline of ${timeoutMs} ms exceeded`, options)
    this.name = 'DeadlineExceededError'
    this.timeoutMs = timeoutMs
  }
}

/**
 * `abortOnReturn: false`: cockatiel aborts `fn`'s signal after `fn` settles by default, as a cleanup for
 * work `fn` left behind. Our callers await everything they start, so nothing is left to stop, and that
 * abort (an `AbortError` DOMException with a stack trace, plus the event dispatch) was a measurable share
 * of the gateway's per-request CPU (docs/benchmarks.md). At the deadline the signal is still aborted.
 */
const TIMEOUT_OPTIONS = { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false } as const

export const isDeadlineExceeded = (error: unknown): error is DeadlineExceededError => error instanceof DeadlineExceededError

/** Runs `fn` with a signal that aborts after `ms` (or when `signal` aborts); rejects at the deadline. */
export async function withTimeout<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, ms: number, signal?: AbortSignal): Promise<T> {
  if (!(ms > 0)) throw new RangeError(`timeout must be positive, got ${ms}`)
  if (signal?.aborted) throw signal.reason
  try {
    return await timeout(ms, TIMEOUT_OPTIONS).execute(({ signal: inner }) => fn(inner), signal)
  } catch (error) {
    if (signal?.aborted) throw signal.reason
    if (error instanceof TaskCancelledError) throw new DeadlineExceededError(ms, { cause: error })
    throw error
  }
}
