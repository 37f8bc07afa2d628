/**
 * A latency budget for one call, on cockatiel's `TimeoutPolicy` (aggressive strategy): the caller gets
 * an answer at the deadline even if `fn` ignores its signal, and `fn`'s signal is aborted so well-behaved
 * work (fetch, pg, ioredis with a signal) stops. What we add: cockatiel reports a parent abort and its own
 * deadline with the same `TaskCancelledError`; here the deadline is a `DeadlineExceededError` with a code
 * (a gateway answers 504), and a parent abort rethrows the parent's reason. The signal is aborted at the
 * deadline or by the parent, not after `fn` settles (see TIMEOUT_OPTIONS).
 */
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel'
import type { LoopStallClock } from './loop-stall.ts'

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

/**
 * Settles with `promise`, or rejects with `DeadlineExceededError` once the other side has had `ms` of this
 * process's *responsive* time to answer. Two things make a plain timer lie on a busy event loop:
 * - it fires late, in the timers phase, before the poll phase that would read an answer which arrived
 *   meanwhile — so the check looks again after that poll phase (setImmediate) before judging;
 * - the time the loop was stalled is our delay, not the other side's: it is not counted (loop-stall.ts),
 *   so a deadline only expires after `ms` during which we could have read the answer.
 * `capMs` bounds the wait in wall time whatever the loop does. The promise is not cancelled.
 */
export function withLoopAwareDeadline<T>(
  promise: Promise<T>,
  ms: number,
  { stall, capMs = Math.max(5_000, ms * 10) }: { stall: LoopStallClock; capMs?: number },
): Promise<T> {
  if (!(ms > 0)) throw new RangeError(`timeout must be positive, got ${ms}`)
  const span = stall.span()
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const judge = () => {
      if (settled) return
      const responsive = span.responsiveMs()
      if (responsive >= ms || span.elapsedMs() >= capMs) {
        settled = true
        reject(new DeadlineExceededError(ms))
      } else {
        timer = setTimeout(check, Math.max(1, Math.ceil(ms - responsive)))
      }
    }
    const check = () => void setImmediate(judge)
    timer = setTimeout(check, ms)
    promise.then(
      (value) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
