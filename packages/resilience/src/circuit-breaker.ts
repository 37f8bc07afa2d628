/**
 * A circuit breaker for one outbound dependency that opens on the error rate OR the slow-call rate over
 * a sliding time window (resilience4j's CircuitBreaker model), with the thresholds of "Achieving High
 * Concurrency, High Performance, and High Availability in Backend Systems" (Full-Stack Internet Architecture)
 * as defaults: more than 5% errors, calls slower than 500 ms.
 *
 * What is cockatiel 4 (https://github.com/connor4312/cockatiel) and what is ours:
 * - cockatiel's `CircuitBreakerPolicy` runs the state machine: closed → open → half-open after
 *   `halfOpenAfterMs` → closed after `halfOpenCalls` probes, or open again when too many of them fail;
 *   `isolate()` holds it open by hand; it emits the state changes we export.
 * - cockatiel's breakers (`SamplingBreaker`, `CountBreaker`) only ever hear "success" or "failure", so they
 *   cannot tell a slow success from a fast one, take "minimum RPS" instead of a minimum number of calls,
 *   and read Date.now() directly. So the decision to open is ours: `createCallWindow` counts calls, failures
 *   and slow calls in time buckets on an injectable clock, and `WindowBreaker` (cockatiel's `IBreaker`)
 *   answers from it. A slow result is handed to cockatiel as a handled "failure result"
 *   (`handleWhenResult`): that makes cockatiel consult the window, and makes a slow half-open probe count
 *   as a failed probe — while the caller still receives the value.
 * Note: like cockatiel, the open → half-open move happens on the first call after the wait, so `state`
 * reads `open` until a call arrives.
 */
import {
  BrokenCircuitError,
  CircuitState,
  IsolatedCircuitError,
  circuitBreaker as cockatielBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
  type IBreaker,
} from 'cockatiel'

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated'

/** For a gauge: closed 0, open 1, half-open 2, isolated 3 (cockatiel's numbering). */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 }

const STATE_NAMES: Readonly<Record<CircuitState, BreakerState>> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
}

export interface CircuitBreakerOptions {
  /** Open when failures / calls in the window is above this. Default 0.05 (the source article's "error rate > 5%"). */
  readonly failureRateThreshold?: number
  /** A call at least this slow is a slow call. Default 500 ms (the source article's "latency > 500 ms"). */
  readonly slowCallMs?: number
  /**
   * Open when slow calls / calls in the window reaches this. Default 0.5: the median call is slower than
   * `slowCallMs`, our reading of the article's "latency > 500 ms" (resilience4j's default is 1.0).
   */
  readonly slowCallRateThreshold?: number
  /** No decision before this many calls in the window. Default 20 (resilience4j: 100; ours sees less traffic per window). */
  readonly minimumCalls?: number
  /** Length of the sliding window. Default 10 s (opossum's rolling window). */
  readonly windowMs?: number
  /** Wait before letting probes through. Default 5 s (resilience4j waits 60 s; a sale lasts minutes). */
  readonly halfOpenAfterMs?: number
  /** Probes let through while half-open; all must finish before it closes. Default 5. */
  readonly halfOpenCalls?: number
  /** Which errors count as failures (e.g. not a 4xx). Uncounted errors pass through untouched. Default: all. */
  readonly isFailure?: (error: unknown) => boolean
  /**
   * How long the dependency itself took for a call that returned `value`, when the caller knows better than
   * the wall time around `fn` (a proxy's round trip includes its own event-loop delay: ADR 0025). Default:
   * the wall time. Only successes are judged by it; a failure is a failure however long it took.
   */
  readonly durationOf?: (value: unknown, elapsedMs: number) => number
  /** Milliseconds; measures call durations and ages the window. Default Date.now (cockatiel's clock). */
  readonly now?: () => number
}

export interface CircuitBreaker {
  /** Runs `fn` unless the circuit is open; throws `BrokenCircuitError` (or `IsolatedCircuitError`) when it is. */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T>
  readonly state: BreakerState
  /** Called on every state change; returns a function that unsubscribes. */
  onStateChange(listener: (state: BreakerState) => void): () => void
  /** Current window counts, for metrics and tests. */
  stats(): WindowStats
  /** Holds the circuit open until the returned function is called (manual override). */
  isolate(): () => void
}

export { BrokenCircuitError, IsolatedCircuitError }
export const isBrokenCircuitError = (error: unknown): boolean => error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError

export interface WindowStats {
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
}

/** What the breaker hands cockatiel: the value plus whether it was slow. */
interface Outcome<T> {
  readonly value: T
  readonly slow: boolean
}

export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const {
    failureRateThreshold = 0.05,
    slowCallMs = 500,
    slowCallRateThreshold = 0.5,
    minimumCalls = 20,
    windowMs = 10_000,
    halfOpenAfterMs = 5_000,
    halfOpenCalls = 5,
    isFailure = () => true,
    durationOf = (_value: unknown, elapsedMs: number) => elapsedMs,
    now = Date.now,
  } = options
  const window = createCallWindow({ windowMs, now })
  const breaker = new WindowBreaker(window, { failureRateThreshold, slowCallRateThreshold, minimumCalls })
  const policy: CircuitBreakerPolicy = cockatielBreaker(
    handleWhen(isFailure).orWhenResult((r) => (r as Outcome<unknown>).slow),
    {
      breaker,
      halfOpenAfter: halfOpenAfterMs,
      // Reopen when the probes fail more often than the closed-state threshold allows.
      halfOpenSampling: { calls: halfOpenCalls, threshold: Math.min(failureRateThreshold, slowCallRateThreshold) },
    },
  )

  return {
    async execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
      const outcome = await policy.execute(async ({ signal: inner }): Promise<Outcome<T>> => {
        const start = now()
        try {
          const value = await fn(inner)
          const slow = durationOf(value, now() - start) >= slowCallMs
          window.record({ failed: false, slow })
          return { value, slow }
        } catch (error) {
          if (isFailure(error)) window.record({ failed: true, slow: now() - start >= slowCallMs })
          throw error
        }
      }, signal)
      return outcome.value
    },
    get state() {
      return STATE_NAMES[policy.state]
    },
    onStateChange(listener) {
      const sub = policy.onStateChange((s) => listener(STATE_NAMES[s]))
      return () => sub.dispose()
    },
    stats: () => window.stats(),
    isolate() {
      const handle = policy.isolate()
      return () => handle.dispose()
    },
  }
}

/**
 * cockatiel's `IBreaker`, answering from our call window. cockatiel calls `failure()` after a counted
 * error or a slow result (the outcome is already in the window), and `success(HalfOpen)` when the probes
 * pass — then the window starts afresh so the failures that opened the circuit do not open it again.
 */
class WindowBreaker implements IBreaker {
  readonly #window: CallWindow
  readonly #thresholds: { failureRateThreshold: number; slowCallRateThreshold: number; minimumCalls: number }

  constructor(window: CallWindow, thresholds: { failureRateThreshold: number; slowCallRateThreshold: number; minimumCalls: number }) {
    this.#window = window
    this.#thresholds = thresholds
  }

  get state(): unknown {
    return undefined
  }

  set state(_value: unknown) {
    // Nothing to restore: the window is in-process and short-lived.
  }

  success(state: CircuitState): void {
    if (state === CircuitState.HalfOpen) this.#window.reset()
  }

  failure(state: CircuitState): boolean {
    if (state !== CircuitState.Closed) return true
    const { calls, failures, slowCalls } = this.#window.stats()
    const { failureRateThreshold, slowCallRateThreshold, minimumCalls } = this.#thresholds
    if (calls < minimumCalls) return false
    return failures / calls > failureRateThreshold || slowCalls / calls >= slowCallRateThreshold
  }
}

export interface CallWindow {
  record(call: { failed: boolean; slow: boolean }): void
  stats(): WindowStats
  reset(): void
}

/**
 * Calls, failures and slow calls over the last `windowMs`, in 10 buckets (so a call leaves the window
 * at most windowMs/10 late), on an injectable clock.
 */
export function createCallWindow({ windowMs, now, buckets = 10 }: { windowMs: number; now: () => number; buckets?: number }): CallWindow {
  const bucketMs = windowMs / buckets
  const ring = Array.from({ length: buckets }, () => ({ index: -1, calls: 0, failures: 0, slowCalls: 0 }))
  const current = () => Math.floor(now() / bucketMs)
  return {
    record({ failed, slow }) {
      const index = current()
      const b = ring[index % buckets]!
      if (b.index !== index) Object.assign(b, { index, calls: 0, failures: 0, slowCalls: 0 })
      b.calls++
      if (failed) b.failures++
      if (slow) b.slowCalls++
    },
    stats() {
      const oldest = current() - buckets + 1
      let calls = 0
      let failures = 0
      let slowCalls = 0
      for (const b of ring) {
        if (b.index < oldest) continue
        calls += b.calls
        failures += b.failures
        slowCalls += b.slowCalls
      }
      return { calls, failures, slowCalls }
    },
    reset() {
      for (const b of ring) Object.assign(b, { index: -1, calls: 0, failures: 0, slowCalls: 0 })
    },
  }
}
