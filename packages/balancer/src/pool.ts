/**
 * What every balancing algorithm shares: the instances of one upstream, which of them are available
 * (not ejected by health checks or outlier detection), and how many requests each has in flight.
 * The algorithms (algorithms.ts) only decide which available instance to pick.
 */

export interface Instance {
  /** Stable identity: hashing, ejection and metrics key on it. */
  readonly id: string
  readonly url: string
  /** Relative share for the weighted algorithms; default 1, 0 = never picked by them. */
  readonly weight?: number
}

export interface PickContext {
  /** The client's address, for source-IP hashing. */
  readonly clientIp?: string
  /** Any other affinity key (a user id); wins over clientIp for hashing. */
  readonly key?: string
}

export interface CallResult {
  readonly latencyMs: number
  readonly ok: boolean
}

export type AlgorithmName = 'round-robin' | 'random' | 'ip-hash' | 'smooth-weighted-round-robin' | 'weighted-random' | 'least-connections' | 'p2c-peak-ewma'

export interface Balancer<I extends Instance = Instance> {
  readonly algorithm: AlgorithmName
  /**
   * An available instance, counted as one more request in flight on it; `undefined` when none is
   * available. Every instance returned must be handed back once to `report`.
   */
  pick(context?: PickContext): I | undefined
  /**
   * Panic routing (Envoy's panic threshold, at its limit: nothing available): picks with the same
   * algorithm among the ejected instances that `eligible` admits, counted and reported like `pick`.
   * An upstream whose every instance was ejected for a few failures would otherwise refuse everything
   * for the whole ejection time; the caller decides which ejections are worth ignoring.
   */
  pickInPanic(context: PickContext, eligible: (instance: I) => boolean): I | undefined
  /** The request to `instance` finished; frees its in-flight slot and feeds latency-aware algorithms. */
  report(instance: I, result: CallResult): void
  /** Ejects (false) or restores (true) an instance; ejected instances are never picked. */
  setAvailable(id: string, available: boolean): void
  isAvailable(id: string): boolean
  /** Replaces the instance list (service discovery); in-flight counts of kept instances survive. */
  setInstances(instances: readonly I[]): void
  readonly instances: readonly I[]
  inflight(id: string): number
}

/** The state an algorithm reads. `available` is in instance order. */
export interface PoolView<I extends Instance> {
  readonly all: readonly I[]
  readonly available: readonly I[]
  inflight(id: string): number
}

/** One algorithm: chooses among the available instances; may keep state of its own. */
export interface Strategy<I extends Instance> {
  choose(pool: PoolView<I>, context: PickContext): I | undefined
  /** The instance list changed (rebuild a ring, reset weights). */
  reset?(all: readonly I[]): void
  observe?(instance: I, result: CallResult): void
}

export const weightOf = (i: Instance): number => i.weight ?? 1

export function createPool<I extends Instance>(algorithm: AlgorithmName, initial: readonly I[], strategy: Strategy<I>): Balancer<I> {
  let all: readonly I[] = []
  let available: I[] = []
  const ejected = new Set<string>()
  const inflight = new Map<string, number>()

  const refresh = () => {
    available = all.filter((i) => !ejected.has(i.id))
  }
  const view: PoolView<I> = {
    get all() {
      return all
    },
    get available() {
      return available
    },
    inflight: (id) => inflight.get(id) ?? 0,
  }

  function setInstances(next: readonly I[]): void {
    const ids = new Set<string>()
    for (const i of next) {
      if (ids.has(i.id)) throw new Error(`duplicate instance id ${i.id}`)
      ids.add(i.id)
      const w = weightOf(i)
      if (!(Number.isFinite(w) && w >= 0)) throw new RangeError(`instance ${i.id}: weight must be a finite number >= 0, got ${w}`)
    }
    all = [...next]
    for (const id of [...ejected]) if (!ids.has(id)) ejected.delete(id)
    refresh()
    strategy.reset?.(all)
  }
  setInstances(initial)

  return {
    algorithm,
    pick(context = {}) {
      if (available.length === 0) return undefined
      const chosen = strategy.choose(view, context)
      if (chosen) inflight.set(chosen.id, (inflight.get(chosen.id) ?? 0) + 1)
      return chosen
    },
    pickInPanic(context, eligible) {
      const candidates = all.filter(eligible)
      if (candidates.length === 0) return undefined
      const chosen = strategy.choose({ all, available: candidates, inflight: view.inflight }, context)
      if (chosen) inflight.set(chosen.id, (inflight.get(chosen.id) ?? 0) + 1)
      return chosen
    },
    report(instance, result) {
      const n = inflight.get(instance.id) ?? 0
      if (n <= 1) inflight.delete(instance.id)
      else inflight.set(instance.id, n - 1)
      strategy.observe?.(instance, result)
    },
    setAvailable(id, isAvailable) {
      if (isAvailable) ejected.delete(id)
      else if (all.some((i) => i.id === id)) ejected.add(id)
      refresh()
    },
    isAvailable: (id) => all.some((i) => i.id === id) && !ejected.has(id),
    setInstances,
    get instances() {
      return all
    },
    inflight: view.inflight,
  }
}
