/**
 * Concurrency-limit algorithms: how many requests may be in flight to one upstream, learned from the
 * round-trip times of the requests that completed. Ports of Netflix concurrency-limits
 * (concurrency-limits-core/.../limit/{Gradient2Limit,VegasLimit,AIMDLimit,WindowedLimit}.java), with their
 * defaults (https://github.com/Netflix/concurrency-limits; each is restated below). Why Gradient2 is our
 * default: docs/adr/0012-adaptive-concurrency-limit-gradient2.md.
 *
 * Pure: no clock, no timers. The limiter (adaptive-limit.ts) feeds samples in.
 */

/** One completed request (or one sample window, when windowed), as an algorithm sees it. */
export interface LimitSample {
  /** Round-trip time of the request, in milliseconds. */
  readonly rttMs: number
  /** Requests in flight when this one started, itself included (Netflix's `inflight`). */
  readonly inflight: number
  /** The request was dropped: timed out or rejected by the upstream as overloaded. */
  readonly dropped: boolean
}

export interface LimitAlgorithm {
  /** The current limit, a whole number of concurrent requests. */
  readonly limit: number
  /** Learns from one sample; returns the new limit. */
  update(sample: LimitSample): number
}

const clamp = (x: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, x))

export interface Gradient2Options {
  readonly initialLimit?: number
  readonly minLimit?: number
  readonly maxLimit?: number
  /** How much of each new estimate replaces the current limit (0..1). */
  readonly smoothing?: number
  /** How far the limit may grow past the gradient while latency stays low ("queueSize"). */
  readonly queueSize?: number | ((limit: number) => number)
  /** Samples in the long-term RTT average (an EMA with factor 2/(n+1)). */
  readonly longWindow?: number
  /** How much slower than the long-term RTT a sample may be before it counts as queueing. */
  readonly rttTolerance?: number
}

/**
 * Netflix Gradient2Limit, with its defaults: initialLimit 20, minLimit 20,
 * maxConcurrency 200, smoothing 0.2, queueSize 4, longWindow 600, rttTolerance 1.5. Per sample
 * (Gradient2Limit.java):
 *   shortRtt = sample; longRtt = EMA(2/(600+1)) seeded by the mean of the first 10 samples
 *   if longRtt/shortRtt > 2: longRtt *= 0.95   (recovering from a long overload: let the baseline fall)
 *   if inflight < limit/2: keep the limit      (app-limited: no evidence about capacity)
 *   gradient = clamp(rttTolerance * longRtt/shortRtt, 0.5, 1.0)
 *   limit = clamp(limit*(1-smoothing) + (limit*gradient + queueSize)*smoothing, minLimit, maxLimit)
 * It compares recent latency with a slowly moving average rather than with the all-time minimum
 * (Vegas), which Netflix found biased toward an impractically low baseline for bursty RPCs.
 */
export function createGradient2Limit(options: Gradient2Options = {}): LimitAlgorithm {
  const { initialLimit = 20, minLimit = 20, maxLimit = 200, smoothing = 0.2, queueSize = 4, longWindow = 600, rttTolerance = 1.5 } = options
  const queueSizeOf = typeof queueSize === 'number' ? () => queueSize : queueSize
  const longRtt = createExpAverage(longWindow, 10)
  let estimated = clamp(initialLimit, minLimit, maxLimit)

  return {
    get limit() {
      return Math.floor(estimated)
    },
    update({ rttMs, inflight }) {
      if (!(rttMs > 0)) return Math.floor(estimated)
      const queue = queueSizeOf(Math.floor(estimated))
      const shortRtt = rttMs
      const long = longRtt.add(rttMs)
      if (long / shortRtt > 2) longRtt.scale(0.95)
      if (inflight < estimated / 2) return Math.floor(estimated)
      const gradient = clamp((rttTolerance * long) / shortRtt, 0.5, 1)
      const next = estimated * gradient + queue
      estimated = clamp(estimated * (1 - smoothing) + next * smoothing, minLimit, maxLimit)
      return Math.floor(estimated)
    },
  }
}

/** Netflix ExpAvgMeasurement: the mean of the first `warmup` samples, then an EMA with factor 2/(window+1). */
function createExpAverage(window: number, warmup: number) {
  const factor = 2 / (window + 1)
  let value = 0
  let sum = 0
  let count = 0
  return {
    add(sample: number): number {
      if (count < warmup) {
        count++
        sum += sample
        value = sum / count
      } else {
        value = value * (1 - factor) + sample * factor
      }
      return value
    },
    scale(by: number): void {
      value *= by
    },
  }
}

export interface VegasOptions {
  readonly initialLimit?: number
  readonly maxLimit?: number
  readonly smoothing?: number
  /** Re-probe the no-load RTT every jitter(0.5..1) * probeMultiplier * limit samples. */
  readonly probeMultiplier?: number
  /** Uniform [0, 1); injectable so tests are deterministic. */
  readonly random?: () => number
}

/**
 * Netflix VegasLimit (TCP Vegas applied to requests; VegasLimit.java): the queue is
 * estimated as ceil(limit * (1 - rttNoLoad/rtt)) with rttNoLoad the minimum RTT seen;
 * L = max(1, floor(log10 limit)), alpha = 3L, beta = 6L. A drop shrinks the limit by L; a queue at or
 * below L grows it by beta, below alpha by L, above beta shrinks it by L. Defaults: initialLimit 20,
 * maxConcurrency 1000, smoothing 1.0, probeMultiplier 30.
 */
export function createVegasLimit(options: VegasOptions = {}): LimitAlgorithm {
  const { initialLimit = 20, maxLimit = 1000, smoothing = 1, probeMultiplier = 30, random = Math.random } = options
  const log10 = (limit: number) => Math.max(1, Math.floor(Math.log10(limit)))
  let estimated = initialLimit
  let rttNoLoad = 0
  let probeCount = 0
  let probeJitter = 0.5 + random() * 0.5

  return {
    get limit() {
      return Math.floor(estimated)
    },
    update({ rttMs, inflight, dropped }) {
      if (!(rttMs > 0)) return Math.floor(estimated)
      probeCount++
      if (probeJitter * probeMultiplier * estimated <= probeCount) {
        // Periodically forget the minimum, so a baseline that moved up for good is learned again.
        probeJitter = 0.5 + random() * 0.5
        probeCount = 0
        rttNoLoad = rttMs
        return Math.floor(estimated)
      }
      if (rttNoLoad === 0 || rttMs < rttNoLoad) {
        rttNoLoad = rttMs
        return Math.floor(estimated)
      }
      const queue = Math.ceil(estimated * (1 - rttNoLoad / rttMs))
      const l = log10(Math.floor(estimated))
      let next: number
      if (dropped) next = estimated - l
      else if (inflight * 2 < estimated) return Math.floor(estimated)
      else if (queue <= l) next = estimated + 6 * l
      else if (queue < 3 * l) next = estimated + l
      else if (queue > 6 * l) next = estimated - l
      else return Math.floor(estimated)
      next = clamp(next, 1, maxLimit)
      estimated = (1 - smoothing) * estimated + smoothing * next
      return Math.floor(estimated)
    },
  }
}

export interface AimdOptions {
  readonly initialLimit?: number
  readonly minLimit?: number
  readonly maxLimit?: number
  readonly backoffRatio?: number
  /** A sample slower than this counts as a drop. */
  readonly timeoutMs?: number
}

/**
 * Netflix AIMDLimit (AIMDLimit.java): a drop (or an RTT over the timeout) multiplies the limit by
 * 0.9; otherwise, if at least half the limit is in use, it grows by 1. Defaults: initialLimit 20,
 * minLimit 20, maxLimit 200, timeout 5 s. Reacts only to drops, not to queueing latency.
 */
export function createAimdLimit(options: AimdOptions = {}): LimitAlgorithm {
  const { initialLimit = 20, minLimit = 20, maxLimit = 200, backoffRatio = 0.9, timeoutMs = 5_000 } = options
  let current = clamp(initialLimit, minLimit, maxLimit)
  return {
    get limit() {
      return current
    },
    update({ rttMs, inflight, dropped }) {
      if (dropped || rttMs > timeoutMs) current = Math.floor(current * backoffRatio)
      else if (inflight * 2 >= current) current = current + 1
      current = clamp(current, minLimit, maxLimit)
      return current
    },
  }
}

/** A limit that never moves; for tests, and for turning adaptation off without changing the wiring. */
export function createFixedLimit(limit: number): LimitAlgorithm {
  return { limit, update: () => limit }
}

export interface SampleWindowOptions {
  /** Shortest window. Netflix WindowedLimit default: 1 s. */
  readonly minWindowMs?: number
  /** Longest window. Default 1 s. */
  readonly maxWindowMs?: number
  /** A window with fewer samples is discarded. Default 10. */
  readonly minSamples?: number
  /** Samples faster than this are ignored (they measure nothing). Default 100 µs. */
  readonly minRttMs?: number
}

/**
 * Netflix WindowedLimit (WindowedLimit.java): averages samples over a window of
 * clamp(2 * min RTT, minWindow, maxWindow) and feeds the algorithm one sample per window — the mean RTT,
 * the largest in-flight count, and whether anything dropped — so the limit moves once a second instead of
 * on every request, and a window with fewer than 10 samples says nothing.
 */
export function createSampleWindow(algorithm: LimitAlgorithm, options: SampleWindowOptions = {}) {
  const { minWindowMs = 1_000, maxWindowMs = 1_000, minSamples = 10, minRttMs = 0.1 } = options
  let nextUpdateAt = -Infinity
  let count = 0
  let sum = 0
  let minRtt = Infinity
  let maxInflight = 0
  let dropped = false

  return {
    /** @param endMs when the request completed, on the limiter's clock. */
    add(endMs: number, sample: LimitSample): void {
      if (sample.rttMs < minRttMs) return
      count++
      sum += sample.rttMs
      minRtt = Math.min(minRtt, sample.rttMs)
      maxInflight = Math.max(maxInflight, sample.inflight)
      dropped ||= sample.dropped
      if (endMs <= nextUpdateAt) return
      nextUpdateAt = endMs + clamp(minRtt * 2, minWindowMs, maxWindowMs)
      if (count >= minSamples) algorithm.update({ rttMs: sum / count, inflight: maxInflight, dropped })
      count = 0
      sum = 0
      minRtt = Infinity
      maxInflight = 0
      dropped = false
    },
  }
}
