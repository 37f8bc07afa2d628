/**
 * The balancing algorithms of "Achieving High Concurrency, High Performance, and High Availability in Backend
 * Systems" (round-robin, random, source-IP hash, weighted round-robin, weighted random, least-connections),
 * plus power of two choices over peak EWMA; each is a factory returning a `Balancer`. All skip ejected
 * instances; all are pure (randomness and clock injectable).
 */
import { hash32 } from './hash.ts'
import { createPool, weightOf, type AlgorithmName, type Balancer, type Instance, type Strategy } from './pool.ts'

export interface RandomOptions {
  /** Uniform [0, 1). Default Math.random; `createSeededRandom(seed)` for reproducible runs. */
  readonly random?: () => number
}

/** Each available instance in turn. The cursor walks the full list, so an ejection shifts nobody else's turn. */
export function roundRobin<I extends Instance>(instances: readonly I[]): Balancer<I> {
  let next = 0
  return createPool<I>('round-robin', instances, {
    reset() {
      next = 0
    },
    choose({ all, available }) {
      if (available.length === all.length) {
        const chosen = all[next % all.length]!
        next = (next + 1) % all.length
        return chosen
      }
      for (let k = 0; k < all.length; k++) {
        const i = (next + k) % all.length
        if (available.includes(all[i]!)) {
          next = (i + 1) % all.length
          return all[i]
        }
      }
      return undefined
    },
  })
}

/** Uniformly at random among the available instances. */
export function random<I extends Instance>(instances: readonly I[], { random: rand = Math.random }: RandomOptions = {}): Balancer<I> {
  return createPool<I>('random', instances, {
    choose: ({ available }) => available[Math.floor(rand() * available.length)],
  })
}

export interface RingHashOptions extends RandomOptions {
  /** Points on the ring per unit of weight. Default 160 (ketama's points per server). */
  readonly pointsPerWeight?: number
}

/**
 * Source-IP (or key) affinity by consistent hashing (Karger et al. 1997; ketama): each instance owns
 * `pointsPerWeight * weight` points on a 32-bit ring, a key belongs to the first point at or after its
 * hash. Removing or ejecting an instance moves only the keys it owned (about 1/N of them), each to the
 * next available point clockwise; every other key stays where it was. Without a key or client IP the
 * pick is random.
 */
export function ipHash<I extends Instance>(instances: readonly I[], options: RingHashOptions = {}): Balancer<I> {
  const { pointsPerWeight = 160, random: rand = Math.random } = options
  let hashes = new Uint32Array(0)
  let owners: I[] = []
  const strategy: Strategy<I> = {
    reset(all) {
      const points: { hash: number; owner: I }[] = []
      for (const instance of all) {
        const n = Math.round(pointsPerWeight * weightOf(instance))
        for (let p = 0; p < n; p++) points.push({ hash: hash32(`${instance.id}#${p}`), owner: instance })
      }
      // Ties (two instances on one point) are broken by id so every gateway builds the same ring.
      points.sort((a, b) => a.hash - b.hash || (a.owner.id < b.owner.id ? -1 : 1))
      hashes = Uint32Array.from(points, (p) => p.hash)
      owners = points.map((p) => p.owner)
    },
    choose({ available }, { key, clientIp }) {
      const affinity = key ?? clientIp
      if (affinity === undefined || hashes.length === 0) return available[Math.floor(rand() * available.length)]
      const usable = new Set(available)
      let i = lowerBound(hashes, hash32(affinity))
      for (let step = 0; step < owners.length; step++, i++) {
        const owner = owners[i % owners.length]!
        if (usable.has(owner)) return owner
      }
      return undefined // only weight-0 instances are available
    },
  }
  return createPool<I>('ip-hash', instances, strategy)
}

function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_round_robin.c, ngx_http_upstream_get_peer):
 * every pick, each available instance's current weight grows by its weight; the largest is chosen and
 * loses the total. Weights 5,1,1 give a a b a c a a — the heavy instance is spread out, not bunched.
 */
export function smoothWeightedRoundRobin<I extends Instance>(instances: readonly I[]): Balancer<I> {
  const current = new Map<string, number>()
  return createPool<I>('smooth-weighted-round-robin', instances, {
    reset() {
      current.clear()
    },
    choose({ available }) {
      let best: I | undefined
      let bestWeight = -Infinity
      let total = 0
      for (const instance of available) {
        const w = weightOf(instance)
        if (w <= 0) continue
        const cw = (current.get(instance.id) ?? 0) + w
        current.set(instance.id, cw)
        total += w
        if (cw > bestWeight) {
          best = instance
          bestWeight = cw
        }
      }
      if (best) current.set(best.id, bestWeight - total)
      return best
    },
  })
}

/** At random, in proportion to weight. */
export function weightedRandom<I extends Instance>(instances: readonly I[], { random: rand = Math.random }: RandomOptions = {}): Balancer<I> {
  return createPool<I>('weighted-random', instances, {
    choose({ available }) {
      let total = 0
      for (const i of available) total += weightOf(i)
      if (total <= 0) return undefined
      let r = rand() * total
      for (const i of available) {
        r -= weightOf(i)
        if (r < 0 && weightOf(i) > 0) return i
      }
      return available.findLast((i) => weightOf(i) > 0)
    },
  })
}

/**
 * The instance with the fewest requests in flight per unit of weight (nginx least_conn, Envoy
 * LEAST_REQUEST with full scan); ties broken at random so equal instances share the load.
 */
export function leastConnections<I extends Instance>(instances: readonly I[], { random: rand = Math.random }: RandomOptions = {}): Balancer<I> {
  return createPool<I>('least-connections', instances, {
    choose({ available, inflight }) {
      let best: I[] = []
      let bestScore = Infinity
      for (const instance of available) {
        const w = weightOf(instance)
        if (w <= 0) continue
        const score = inflight(instance.id) / w
        if (score < bestScore) {
          best = [instance]
          bestScore = score
        } else if (score === bestScore) best.push(instance)
      }
      return best[Math.floor(rand() * best.length)]
    },
  })
}

export interface PeakEwmaOptions extends RandomOptions {
  /** Time constant of the moving average, and of the decay of an idle estimate. Default 10 s (Finagle's decayTime, linkerd2-proxy's EWMA_DECAY). */
  readonly decayMs?: number
  /** A failed call counts as at least this slow, so an instance that fails fast is not a black hole. Default: off. */
  readonly failureLatencyMs?: number
  /** Milliseconds. Default performance.now. */
  readonly now?: () => number
}

/**
 * Power of two choices (Mitzenmacher 2001) over peak-EWMA cost (Finagle's PeakEwma, linkerd2/tower's
 * p2c + PeakEwma): pick two distinct available instances at random, send to the cheaper, where
 * cost = rttEstimate * (inflight + 1). The estimate jumps up to any slower sample at once (peak) and
 * decays towards faster ones with weight exp(-elapsed/decay); while an instance is idle its estimate also
 * decays, so an instance that was once slow is tried again. An instance with no sample yet costs 0 while
 * idle (so a new instance is tried at once) and a large penalty while it has requests in flight (so it is
 * not flooded before its first answer) — Finagle's rule; linkerd2 assumes a default RTT of 30 ms instead,
 * which starves a new instance at low load when the others answer faster than that.
 */
export function p2cPeakEwma<I extends Instance>(instances: readonly I[], options: PeakEwmaOptions = {}): Balancer<I> {
  const { decayMs = 10_000, failureLatencyMs, random: rand = Math.random, now = () => performance.now() } = options
  const PENALTY = 2 ** 47 // Finagle: Long.MaxValue >> 16, far above any real cost
  const estimates = new Map<string, { rtt: number; at: number }>()
  const cost = (id: string, inflight: number, t: number): number => {
    const e = estimates.get(id)
    if (!e) return inflight === 0 ? 0 : PENALTY + inflight
    return e.rtt * Math.exp(-Math.max(0, t - e.at) / decayMs) * (inflight + 1)
  }
  return createPool<I>('p2c-peak-ewma', instances, {
    reset(all) {
      const ids = new Set(all.map((i) => i.id))
      for (const id of estimates.keys()) if (!ids.has(id)) estimates.delete(id)
    },
    choose({ available, inflight }) {
      if (available.length === 1) return available[0]
      const a = Math.floor(rand() * available.length)
      let b = Math.floor(rand() * (available.length - 1))
      if (b >= a) b++
      const t = now()
      const x = available[a]!
      const y = available[b]!
      return cost(y.id, inflight(y.id), t) < cost(x.id, inflight(x.id), t) ? y : x
    },
    observe(instance, { latencyMs, ok }) {
      const rtt = ok || failureLatencyMs === undefined ? latencyMs : Math.max(latencyMs, failureLatencyMs)
      const t = now()
      const e = estimates.get(instance.id)
      if (!e) {
        estimates.set(instance.id, { rtt, at: t })
        return
      }
      // Finagle PeakEwma.observe: the idle-decayed estimate, raised at once to a slower sample.
      const w = Math.exp(-Math.max(0, t - e.at) / decayMs)
      const decayed = e.rtt * w
      e.rtt = rtt > decayed ? rtt : decayed + rtt * (1 - w)
      e.at = t
    },
  })
}

export type BalancerOptions = RingHashOptions & PeakEwmaOptions

/** Any algorithm by name (the route table selects one per upstream). */
export function createBalancer<I extends Instance>(algorithm: AlgorithmName, instances: readonly I[], options: BalancerOptions = {}): Balancer<I> {
  switch (algorithm) {
    case 'round-robin':
      return roundRobin(instances)
    case 'random':
      return random(instances, options)
    case 'ip-hash':
      return ipHash(instances, options)
    case 'smooth-weighted-round-robin':
      return smoothWeightedRoundRobin(instances)
    case 'weighted-random':
      return weightedRandom(instances, options)
    case 'least-connections':
      return leastConnections(instances, options)
    case 'p2c-peak-ewma':
      return p2cPeakEwma(instances, options)
  }
}
