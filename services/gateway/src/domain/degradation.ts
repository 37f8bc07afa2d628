/**
 * When to switch non-core routes off: a hysteresis state machine over load signals sampled every tick.
 * Enter when any signal is above its `enter` threshold for `enterAfterMs` in a row; leave only when every
 * signal is below its (lower) `leave` threshold for `leaveAfterMs` in a row — two thresholds and two dwell
 * times, so a signal hovering around one value does not make it flap. `mode` overrides by hand: `on`
 * degrades, `off` never does, `auto` follows the signals. Pure: time comes in with each sample.
 */

export type DegradationMode = 'auto' | 'on' | 'off'

export interface LoadSample {
  /** Event-loop utilization over the last interval, 0..1. */
  readonly elu: number
  /** p99 latency of core routes over the last interval; undefined when too few requests to say. */
  readonly coreP99Ms?: number | undefined
  /** Share of upstream calls that failed over the last interval; undefined when too few calls. */
  readonly errorRate?: number | undefined
}

export interface Thresholds {
  readonly elu: number
  readonly p99Ms: number
  readonly errorRate: number
}

export interface DegradationOptions {
  readonly enter: Thresholds
  readonly leave: Thresholds
  readonly enterAfterMs: number
  readonly leaveAfterMs: number
  readonly onChange?: (degraded: boolean, reason: string) => void
}

export interface DegradationState {
  readonly mode: DegradationMode
  readonly degraded: boolean
  /** Why: the signal that tripped it (elu, p99, error_rate), `manual`, or `normal`. */
  readonly reason: string
}

export function createDegradation(options: DegradationOptions) {
  const { enter, leave, enterAfterMs, leaveAfterMs, onChange } = options
  let mode: DegradationMode = 'auto'
  let autoDegraded = false
  let autoReason = 'normal'
  let overSince: number | undefined
  let underSince: number | undefined
  let last: DegradationState = { mode, degraded: false, reason: 'normal' }

  const over = (s: LoadSample): string | undefined => {
    if (s.elu > enter.elu) return 'elu'
    if (s.coreP99Ms !== undefined && s.coreP99Ms > enter.p99Ms) return 'p99'
    if (s.errorRate !== undefined && s.errorRate > enter.errorRate) return 'error_rate'
    return undefined
  }
  const under = (s: LoadSample): boolean =>
    s.elu < leave.elu && (s.coreP99Ms === undefined || s.coreP99Ms < leave.p99Ms) && (s.errorRate === undefined || s.errorRate < leave.errorRate)

  const current = (): DegradationState => {
    if (mode === 'on') return { mode, degraded: true, reason: 'manual' }
    if (mode === 'off') return { mode, degraded: false, reason: 'manual' }
    return { mode, degraded: autoDegraded, reason: autoDegraded ? autoReason : 'normal' }
  }
  const publish = () => {
    const next = current()
    if (next.degraded !== last.degraded) onChange?.(next.degraded, next.reason)
    last = next
  }

  return {
    /** One sample of the load signals at time `t` (ms, any monotonic clock). */
    observe(sample: LoadSample, t: number): DegradationState {
      if (!autoDegraded) {
        const why = over(sample)
        if (why === undefined) overSince = undefined
        else {
          overSince ??= t
          if (t - overSince >= enterAfterMs) {
            autoDegraded = true
            autoReason = why
            overSince = undefined
            underSince = undefined
          }
        }
      } else if (under(sample)) {
        underSince ??= t
        if (t - underSince >= leaveAfterMs) {
          autoDegraded = false
          underSince = undefined
        }
      } else {
        underSince = undefined
      }
      publish()
      return last
    },
    setMode(next: DegradationMode): DegradationState {
      mode = next
      publish()
      return last
    },
    state: (): DegradationState => last,
  }
}
export type Degradation = ReturnType<typeof createDegradation>

/** p99 of a list of latencies (nearest rank); undefined below `minCount` samples. */
export function percentile99(values: readonly number[], minCount = 20): number | undefined {
  if (values.length < minCount) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]
}
