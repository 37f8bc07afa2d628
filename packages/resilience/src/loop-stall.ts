/**
 * How long this process's event loop was stalled: a monotonic clock of the time callbacks spent waiting
 * for a busy loop. A proxy's round trip to an upstream includes that wait (the answer sat in the socket
 * until the loop came round to read it), and it is the proxy's own delay, not the upstream's. Subtracting
 * it keeps every latency-driven mechanism (adaptive limit, breaker, degradation, Redis timeouts) judging
 * the upstream by the upstream's time (ADR 0025).
 *
 * How: a timer due every `resolutionMs`; each time it fires, its lateness (now - due) is time the loop
 * was busy elsewhere, and the I/O callbacks of that turn waited about as long. `stalledMs()` adds the
 * lateness of the tick not yet fired, so it is continuous and never decreases: the stall during a call is
 * `stalledMs()` at its end minus `stalledMs()` at its start. Node's `perf_hooks.monitorEventLoopDelay`
 * samples the same lateness, but as a histogram, not as a running total a caller can difference.
 * Resolution: stalls shorter than about `resolutionMs` are not seen; a 10 ms tick costs ~100 wake-ups/s.
 */
export interface LoopStallClock {
  /** Milliseconds the loop has been stalled since the clock started; never decreases. */
  stalledMs(): number
  /** Starts measuring one span of work (a call): its wall time, and how much of it the loop was stalled. */
  span(): StallSpan
  stop(): void
}

export interface StallSpan {
  elapsedMs(): number
  /** Of `elapsedMs`, the time this process's loop was stalled: ours, not the other side's. */
  stalledMs(): number
  /** `elapsedMs - stalledMs`: the time the other side had while we could have read its answer. */
  responsiveMs(): number
}

export interface LoopStallClockOptions {
  readonly resolutionMs?: number
  /** Milliseconds on a monotonic clock. Default performance.now. */
  readonly now?: () => number
}

export function createLoopStallClock({ resolutionMs = 10, now = () => performance.now() }: LoopStallClockOptions = {}): LoopStallClock {
  if (!(resolutionMs > 0)) throw new RangeError(`resolutionMs must be positive, got ${resolutionMs}`)
  let stalled = 0
  let due = now() + resolutionMs
  const timer = setInterval(() => {
    const t = now()
    stalled += Math.max(0, t - due)
    due = t + resolutionMs
  }, resolutionMs)
  timer.unref()
  const stalledMs = () => stalled + Math.max(0, now() - due)
  return {
    stalledMs,
    span() {
      const startedAt = now()
      const stalledAt = stalledMs()
      const span: StallSpan = {
        elapsedMs: () => now() - startedAt,
        stalledMs: () => stalledMs() - stalledAt,
        responsiveMs: () => span.elapsedMs() - span.stalledMs(),
      }
      return span
    },
    stop: () => clearInterval(timer),
  }
}

/** The process's clock, started on first use; shared so one timer serves every caller. */
let shared: LoopStallClock | undefined
export function processLoopStall(): LoopStallClock {
  shared ??= createLoopStallClock()
  return shared
}
