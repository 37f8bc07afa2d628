/**
 * The load signals degradation decides on (ADR 0017), gathered between two samples: the event loop's
 * utilization, the p99 of core calls by the upstreams' own time (ADR 0025, never the gateway's round trip),
 * and the upstreams' error rate. The proxy reports each call (`observe`); a timer calls `sample`, which hands
 * the window to the degradation state machine and starts a new one.
 */
import { percentile99, type Degradation, type DegradationState, type LoadSample } from './degradation.ts'

export interface CallObservation {
  readonly core: boolean
  /** The upstream's own time, when a call was made. */
  readonly upstreamMs?: number | undefined
  /** Whether the upstream failed the call (its 5xx, a timeout, no connection); undefined when none was made. */
  readonly upstreamFailed?: boolean | undefined
}

export interface LoadSampler {
  observe(call: CallObservation): void
  sample(now: number): DegradationState
}

/** At most this many core latencies are kept per window: enough for a p99, bounded under a burst. */
const MAX_WINDOW = 10_000
/** Fewer calls than this in a window say nothing about an error rate. */
const MIN_CALLS_FOR_RATE = 20

export function createLoadSampler(
  degradation: Pick<Degradation, 'observe'>,
  eventLoopUtilization: () => number,
  onSample: (sample: LoadSample, state: DegradationState) => void,
): LoadSampler {
  let coreLatencies: number[] = []
  let calls = 0
  let failures = 0
  return {
    observe({ core, upstreamMs, upstreamFailed }) {
      if (core && upstreamMs !== undefined && coreLatencies.length < MAX_WINDOW) coreLatencies.push(upstreamMs)
      if (upstreamFailed !== undefined) {
        calls++
        if (upstreamFailed) failures++
      }
    },
    sample(now) {
      const sample: LoadSample = {
        elu: eventLoopUtilization(),
        coreP99Ms: percentile99(coreLatencies),
        errorRate: calls >= MIN_CALLS_FOR_RATE ? failures / calls : undefined,
      }
      coreLatencies = []
      calls = 0
      failures = 0
      const state = degradation.observe(sample, now)
      onSample(sample, state)
      return state
    },
  }
}
