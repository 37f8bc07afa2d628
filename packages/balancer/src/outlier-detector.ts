/**
 * Passive outlier ejection, Envoy's consecutive-5xx detector (envoy.config.cluster.v3.OutlierDetection):
 * an instance that fails `consecutiveFailures` times in a row (default 5) is ejected for
 * baseEjectionMs × (times ejected), at most maxEjectionMs (defaults 30 s and 300 s, Envoy's), then fails
 * back automatically. The multiplier drops by one for every `intervalMs` (10 s) an instance goes without
 * being ejected, so an instance that recovered for good is not punished forever.
 * `maxEjectionPercent` keeps a bad day from ejecting everything (Envoy: 10%, always at least one host;
 * ours defaults to 50% because an upstream here has two or three instances).
 *
 * Pure, with an injectable clock; wire it to a balancer with `onEject`/`onRestore`:
 *   createOutlierDetector({ onEject: (id) => balancer.setAvailable(id, false), onRestore: (id) => balancer.setAvailable(id, true) })
 * Failback happens on the next `report`, `isEjected` or `sweep` after the ejection ends; call `sweep()`
 * on a timer (e.g. with the active health check) so an idle upstream fails back too.
 */

export interface OutlierDetectorOptions {
  readonly consecutiveFailures?: number
  readonly baseEjectionMs?: number
  readonly maxEjectionMs?: number
  /** Time without an ejection that takes one off the multiplier. Default 10 s (Envoy's interval). */
  readonly intervalMs?: number
  /** Never have more than this share of known instances ejected (at least one may always be). Default 50. */
  readonly maxEjectionPercent?: number
  /** Instances to count for maxEjectionPercent; others are learned from `report`. */
  readonly hosts?: readonly string[]
  /** Milliseconds. Default performance.now. */
  readonly now?: () => number
  readonly onEject?: (id: string, info: { readonly untilMs: number; readonly durationMs: number; readonly times: number }) => void
  readonly onRestore?: (id: string) => void
}

export interface OutlierDetector {
  /** One call to `id` finished; returns true when this failure ejected it. */
  report(id: string, ok: boolean): boolean
  isEjected(id: string): boolean
  /** Fails back every instance whose ejection has ended; returns their ids. */
  sweep(): string[]
  /** Ends an ejection early (an active health check saw the instance healthy). */
  restore(id: string): void
  /** How many times `id` counts as ejected now (the multiplier of its next ejection, minus one). */
  multiplier(id: string): number
  setHosts(ids: readonly string[]): void
}

interface HostState {
  failures: number
  times: number
  /** When `times` last changed (for the decay). */
  timesAt: number
  ejectedUntil?: number
}

export function createOutlierDetector(options: OutlierDetectorOptions = {}): OutlierDetector {
  const {
    consecutiveFailures = 5,
    baseEjectionMs = 30_000,
    maxEjectionMs = 300_000,
    intervalMs = 10_000,
    maxEjectionPercent = 50,
    hosts = [],
    now = () => performance.now(),
    onEject,
    onRestore,
  } = options
  const states = new Map<string, HostState>()
  const stateOf = (id: string): HostState => {
    let s = states.get(id)
    if (!s) states.set(id, (s = { failures: 0, times: 0, timesAt: now() }))
    return s
  }
  for (const id of hosts) stateOf(id)

  function failBack(id: string, s: HostState, t: number): boolean {
    if (s.ejectedUntil === undefined || t < s.ejectedUntil) return false
    s.ejectedUntil = undefined
    s.timesAt = t
    onRestore?.(id)
    return true
  }

  /** Takes one off the multiplier per interval spent not ejected. */
  function decay(s: HostState, t: number): void {
    if (s.ejectedUntil !== undefined || s.times === 0) return
    const steps = Math.floor((t - s.timesAt) / intervalMs)
    if (steps <= 0) return
    s.times = Math.max(0, s.times - steps)
    s.timesAt += steps * intervalMs
  }

  function ejectedCount(): number {
    let n = 0
    for (const s of states.values()) if (s.ejectedUntil !== undefined) n++
    return n
  }

  return {
    report(id, ok) {
      const t = now()
      const s = stateOf(id)
      failBack(id, s, t)
      if (ok) {
        s.failures = 0
        return false
      }
      s.failures++
      if (s.ejectedUntil !== undefined || s.failures < consecutiveFailures) return false
      const allowed = Math.max(1, Math.floor((states.size * maxEjectionPercent) / 100))
      if (ejectedCount() >= allowed) return false
      decay(s, t)
      s.times++
      s.timesAt = t
      s.failures = 0
      const durationMs = Math.min(baseEjectionMs * s.times, maxEjectionMs)
      s.ejectedUntil = t + durationMs
      onEject?.(id, { untilMs: s.ejectedUntil, durationMs, times: s.times })
      return true
    },
    isEjected(id) {
      const s = states.get(id)
      if (!s) return false
      failBack(id, s, now())
      return s.ejectedUntil !== undefined
    },
    sweep() {
      const t = now()
      const restored: string[] = []
      for (const [id, s] of states) if (failBack(id, s, t)) restored.push(id)
      return restored
    },
    restore(id) {
      const s = states.get(id)
      if (s?.ejectedUntil === undefined) return
      s.ejectedUntil = now()
      failBack(id, s, now())
    },
    multiplier(id) {
      const s = states.get(id)
      if (!s) return 0
      decay(s, now())
      return s.times
    },
    setHosts(ids) {
      const keep = new Set(ids)
      for (const id of [...states.keys()]) if (!keep.has(id)) states.delete(id)
      for (const id of ids) stateOf(id)
    },
  }
}
