/**
 * An adaptive concurrency limiter for one upstream: at most `limit` requests in flight (the limit learned
 * by Gradient2 or Vegas from round-trip times, limit-algorithms.ts), a bounded wait queue whose timeout
 * follows CoDel, and two priority classes so non-core traffic is shed before core traffic.
 *
 * Why one file: one limiter. The limit, the two queue disciplines, priority shedding and the capacity floor
 *   read and change the same in-flight count and queues on every admission and release; the algorithms that
 *   learn the limit are in limit-algorithms.ts.
 *
 * - Queue timeout (CoDel: Nichols & Jacobson, "Controlling Queue Delay", ACM Queue 2012, as applied to server
 *   queues in Ben Maurer's "Fail at Scale", ACM Queue 2015; folly/executors/Codel.h defaults target 5 ms,
 *   interval 100 ms): a waiter may wait up to `intervalMs`; but if the queue has not been empty
 *   at any moment in the last `intervalMs` (a standing queue, so waiting only adds latency), a waiter
 *   times out after `targetMs`. A moment counts as empty only if nobody was dropped in the interval
 *   before it, so the short timeout holds for as long as the overload does. Under a standing queue the freed slot goes to the newest waiter
 *   (adaptive LIFO, same source): the oldest are the likeliest to have been given up by their clients.
 *   Only as many waiters as the queue drains within the target are kept; the older ones, and an arrival
 *   when not even one fits, are refused at once rather than after waiting the target out (makeRoomUnderLifo).
 * - Priority (Stripe's fleet load shedder keeps 20% of capacity for critical traffic, "Scaling your API with
 *   rate limiters", 2017; Netflix's prioritized load shedding, 2020): non-core requests are admitted only while fewer than
 *   `nonCoreShare * limit` (0.8) are in flight, so core traffic always keeps the rest. Waiting core
 *   requests are served before waiting non-core ones; a core arrival at a full queue displaces the newest
 *   non-core waiter; a non-core arrival that cannot be admitted while core requests wait, or while the
 *   queue is standing, is shed at once.
 * - Deadline admission for core requests that carry a deadline (`coreQueue: 'deadline'`, what the gateway
 *   uses for order placement and payment): the request carries the moment its answer is due. It waits its
 *   turn, first come first served, unless its expected wait — the waiters ahead that may need the upstream
 *   ÷ the rate the queue has been served at — plus the time a call is expected to hold its slot cannot fit
 *   before that moment; then it is refused at once (`deadline`), with the time the queue needs to drain
 *   (`expectedWaitMs`) for a Retry-After. A waiter whose remaining time can no longer cover a call leaves
 *   with `deadline` too. Waiters that compete for something finite say so (`group`, e.g. one sale's
 *   units): of a group only as many as `groupBound` (less the group's calls in flight) can still need the
 *   upstream, the others get their answer without it when their turn comes, so they cost no wait and need
 *   no time for a call: such a moot waiter is admitted when the work ahead of it fits and leaves only at
 *   its deadline (sent upstream after all, should its group get units back, only if a call still fits).
 *   Arrivals are judged at the shortest service time seen lately (a refusal at once must be sure), waiters
 *   in the queue at the conservative reserve (nothing is sent upstream late) (ADR 0032). Deadline waiters are served before
 *   other core waiters. Why FIFO for them and CoDel + adaptive LIFO for the rest (core reads included): in
 *   a flash sale every buyer has the same budget, so the oldest waiter is the one closest to giving up and
 *   the fair one to serve, and refusing only what cannot be served in time turns a burst into answers, not
 *   503s; a read under sustained overload is better served fresh or refused within the 5 ms target than
 *   queued to the end of its budget (ADR 0026).
 * - Every refusal is an answer, never an exception: `{ admitted: false, reason }`, so the gateway can
 *   reply 503 with Retry-After in microseconds.
 *
 * Pure logic over an injectable clock (`now`); the queue timeout uses the global setTimeout, which tests
 * replace with node:test's mock timers.
 */
import { createGradient2Limit, createSampleWindow, type LimitAlgorithm, type SampleWindowOptions } from './limit-algorithms.ts'

export type Priority = 'core' | 'non-core'

/**
 * Why a request was refused:
 * - `limit`: at the limit and there is no queue (maxQueue 0), or `tryAcquire` found no free slot;
 * - `queue_full`: the wait queue is at maxQueue (or maxQueueHeads);
 * - `queue_timeout`: waited longer than the CoDel queue timeout, or, under a standing queue, could not be
 *   served within its target (refused then, or at once on arrival: `waitedMs` 0);
 * - `shed`: non-core, refused or displaced so core traffic keeps its share;
 * - `deadline`: a core request whose expected wait does not fit before its deadline (deadline admission).
 */
export type RejectionReason = 'limit' | 'queue_full' | 'queue_timeout' | 'shed' | 'deadline'

export interface Permit {
  readonly priority: Priority
  /**
   * The request finished. `rttMs` defaults to the time since admission on the limiter's clock;
   * `dropped` = it timed out or the upstream refused it as overloaded (the algorithm backs off).
   * A second call is ignored.
   */
  release(rttMs?: number, dropped?: boolean): void
  /** The request finished without saying anything about the upstream's capacity (e.g. a 4xx). */
  ignore(): void
  /**
   * The slot is given back before any upstream call: by the time it came the answer was already known
   * (a waiter of a group with nothing left, see `AcquireOptions.group`). Not counted as served.
   */
  unused(): void
}

export type Admission =
  | { readonly admitted: true; readonly permit: Permit; readonly waitedMs: number }
  | {
      readonly admitted: false
      readonly reason: RejectionReason
      readonly waitedMs: number
      /** How long the queue is expected to take to drain, when the limiter can tell (for Retry-After). */
      readonly expectedWaitMs?: number
    }

export interface AcquireOptions {
  /** Leaves the queue and rejects the acquire with the signal's reason. */
  readonly signal?: AbortSignal
  /**
   * When the answer is due, on the limiter's clock. A core request that carries one is admitted by
   * deadline (`coreQueue: 'deadline'`); without one it waits under CoDel.
   */
  readonly deadline?: number
  /**
   * What the request competes for when that is finite, such as the units of one sale. Of a group's
   * waiters at most `groupBound(group)` can still need the upstream; the rest will be answered without it
   * when their turn comes (their slot comes back `unused`). Deadline admission counts only the waiters
   * ahead that may need the upstream, so a crowd after the last units is not refused for its size.
   */
  readonly group?: string
}

/** One admission decision, for metrics (admitted/rejected counters by reason, queue-wait histogram). */
export interface LimitDecision {
  readonly priority: Priority
  readonly admitted: boolean
  readonly reason?: RejectionReason
  readonly waitedMs: number
  /** In flight right after the decision (an admitted request counts itself). */
  readonly inflight: number
  readonly limit: number
}

export interface AdaptiveLimitOptions {
  /** Default: Gradient2 with Netflix's defaults. */
  readonly algorithm?: LimitAlgorithm
  /** Sample windowing before the algorithm (Netflix WindowedLimit); `false` feeds every sample. Default: 1 s windows, >= 10 samples. */
  readonly window?: SampleWindowOptions | false
  /**
   * Waiters beyond this are refused with `queue_full`. 0 = no queue. Default 100. A group's waiters
   * beyond its bound (`groupBound`) do not count: they will not need the upstream.
   */
  readonly maxQueue?: number
  /** Waiters of any kind beyond this are refused with `queue_full`: the memory bound. Default 10 × maxQueue. */
  readonly maxQueueHeads?: number
  /** CoDel target: the queue timeout under a standing queue. Default 5 ms. */
  readonly queueTargetMs?: number
  /** CoDel interval: the normal queue timeout, and how long a queue must stand before `target` applies. Default 100 ms. */
  readonly queueIntervalMs?: number
  /** Share of the limit non-core requests may occupy. Default 0.8. */
  readonly nonCoreShare?: number
  /** Serve the newest waiter first while the queue is standing. Default true. Never for deadline-admitted core waiters. */
  readonly adaptiveLifo?: boolean
  /** Queue discipline of core requests with a deadline: CoDel (default) or FIFO with deadline admission (see the top of this file). */
  readonly coreQueue?: 'codel' | 'deadline'
  /**
   * At most how many waiters of `group` can still need the upstream (e.g. the units a sale has left), or
   * undefined when unknown (all of them may). Read on each deadline-admission decision; a wrong answer
   * only misjudges expected waits, which the in-queue deadline check bounds.
   */
  readonly groupBound?: (group: string) => number | undefined
  /**
   * The units allowance: a deadline waiter of a group whose calls in flight are fewer than the group's bound
   * (the units its sale has left) is admitted beyond the limit, up to twice the limit (BBR's cwnd gain, as
   * the capacity floor) and at most this many calls in flight in all. Each
   * of those calls is needed: a unit is sold only by a call, and the crowd behind the last units is answered
   * without the upstream once they are gone, so holding them behind a limit sized for steady traffic delays
   * the whole sale's answer (ADR 0041). Without it (the default) the limit holds for every waiter.
   */
  readonly groupAllowanceMax?: number
  /**
   * A floor under the algorithm's limit from measured capacity: twice the upstream's bandwidth-delay
   * product, the highest rate the queue drained at × the lowest service time seen, both over the last
   * `windowMs` (BBR's estimate and its cwnd gain of 2; Cardwell et al., "BBR: Congestion-Based Congestion
   * Control", ACM Queue 14(5), 2016). `initial`: the floor to hold until this process has measured one
   * (what the fleet measured before, for instance); `max`: the floor never exceeds it (the algorithm's
   * maxLimit: an upstream whose service time does not grow with load would otherwise raise it without end).
   * Off by default (the algorithm's own minLimit only).
   */
  readonly capacityFloor?: CapacityFloorOptions
  /** Milliseconds on a monotonic clock. Default performance.now. */
  readonly now?: () => number
  readonly onDecision?: (decision: LimitDecision) => void
}

export interface CapacityFloorOptions {
  /** Default 30 s. */
  readonly windowMs?: number
  /** Default 0. */
  readonly initial?: number
  /** Default unbounded. */
  readonly max?: number
}

export interface LimiterSnapshot {
  readonly limit: number
  readonly inflight: number
  readonly queuedCore: number
  readonly queuedNonCore: number
  /** The queue has not been empty for a whole interval, or refused within the last one: CoDel's overload signal. */
  readonly standingQueue: boolean
  /** Requests completed per second lately while core requests queued (deadline admission's estimate); 0 = unknown. */
  readonly servedPerSecond: number
  /** Smoothed time a slot is held, admission to answer (SRTT of RFC 6298), in ms; 0 = unknown. */
  readonly serviceMs: number
  /** What deadline admission reserves for a call: serviceMs + 4 × its mean deviation (RFC 6298's RTO). */
  readonly reserveMs: number
  /** The measured-capacity floor under the limit (capacityFloor); 0 = none. */
  readonly floor: number
}

export interface AdaptiveLimiter {
  /** Admits now, or waits in the queue; resolves with the decision. Rejects only if `signal` aborts while waiting. */
  acquire(priority?: Priority, options?: AcquireOptions): Promise<Admission>
  /** Admits now or refuses with `limit`; never waits. */
  tryAcquire(priority?: Priority): Admission
  /**
   * The refusal `acquire` would answer at once for a request without a deadline, or undefined when it would
   * admit or queue it; counted like any refusal. For a caller about to spend work on a request first (a
   * rate-limit round trip to Redis): under overload the refusal comes before that work, not after it.
   */
  refusedNow(priority?: Priority): Extract<Admission, { admitted: false }> | undefined
  readonly limit: number
  readonly inflight: number
  snapshot(): LimiterSnapshot
  /**
   * Tells the limiter that `groupBound` changed: the waiters of a group now at 0 get their turn at once, slot
   * or not (their slot comes back `unused`: the answer is known without the upstream).
   */
  groupsChanged(): void
  /** Refuses every waiter with `limit` (shutdown). */
  close(): void
}

interface Waiter {
  readonly priority: Priority
  readonly enqueuedAt: number
  /** Deadline-admitted core waiters only. */
  readonly deadline?: number
  readonly group?: string | undefined
  readonly resolve: (admission: Admission) => void
  readonly cleanup: () => void
}

export function createAdaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimiter {
  const {
    algorithm = createGradient2Limit(),
    window = {},
    maxQueue = 100,
    maxQueueHeads = 10 * maxQueue,
    queueTargetMs = 5,
    queueIntervalMs = 100,
    nonCoreShare = 0.8,
    adaptiveLifo = true,
    coreQueue: coreDiscipline = 'codel',
    groupBound,
    groupAllowanceMax = 0,
    capacityFloor,
    now = () => performance.now(),
    onDecision,
  } = options
  if (!(nonCoreShare > 0 && nonCoreShare <= 1)) throw new RangeError(`nonCoreShare must be in (0, 1], got ${nonCoreShare}`)
  if (!(queueTargetMs > 0 && queueIntervalMs >= queueTargetMs)) throw new RangeError('need 0 < queueTargetMs <= queueIntervalMs')

  const sampler = window === false ? undefined : createSampleWindow(algorithm, window)
  // Core waiters with a deadline (deadline admission, FIFO), core waiters without one (CoDel), non-core (CoDel).
  const deadlineQueue: Waiter[] = []
  const coreQueue: Waiter[] = []
  const nonCoreQueue: Waiter[] = []
  let inflight = 0
  // When the queue was last empty, for CoDel's "has the queue been empty within the last interval?".
  // An empty queue counts only if no waiter was dropped within the last interval: under overload the
  // queue keeps being emptied by the drops themselves and by adaptive LIFO serving the newest waiter,
  // and counting those moments switched the short timeout off each time it worked — a sawtooth in which
  // most refusals waited the whole 100 ms (bench/overload.ts found it). Overload ends one quiet interval
  // after the last drop.
  let lastEmptyAt = now()
  let lastDropAt = -Infinity
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadlineMode = coreDiscipline === 'deadline'
  // No core waiter that may need the upstream has a deadline earlier than this, and no waiter of a group
  // beyond its bound (moot: it will be answered without the upstream) one earlier than earliestMootDeadline
  // (lower bounds; see expire and arm).
  let earliestDeadline = Infinity
  let earliestMootDeadline = Infinity
  // Upstream calls completed per unit of time while requests queued: what the queue drains at.
  const served = createServiceRate()
  // Core waiters per group, and calls of each group in flight (deadline admission only).
  const groupQueued = new Map<string, number>()
  const groupInflight = new Map<string, number>()
  // How long a slot is held, admission to answer, wall time (the larger of that and the reported RTT): what a
  // waiter's budget must still cover when its turn comes. Smoothed as TCP smooths RTT (RFC 6298 §2: alpha
  // 1/8, beta 1/4), and reserved as TCP sets its retransmission timeout, SRTT + 4 RTTVAR, so a deadline
  // check is not fooled by an average when the answers spread (a 5,000-buyer burst got 504s from it).
  let serviceMs = 0
  let serviceVarMs = 0
  const reserveMs = () => serviceMs + 4 * serviceVarMs
  const held = (ms: number) => {
    if (serviceMs === 0) {
      serviceMs = ms
      serviceVarMs = ms / 2
    } else {
      serviceVarMs = 0.75 * serviceVarMs + 0.25 * Math.abs(serviceMs - ms)
      serviceMs = 0.875 * serviceMs + 0.125 * ms
    }
  }

  const capacity = createCapacityFloor(capacityFloor, now())
  const currentLimit = () => Math.max(algorithm.limit, capacity.floor(now()))
  const capacityFor = (priority: Priority): number => (priority === 'core' ? currentLimit() : Math.floor(currentLimit() * nonCoreShare))
  const queued = () => deadlineQueue.length + coreQueue.length + nonCoreQueue.length
  const coreWaiting = () => deadlineQueue.length + coreQueue.length > 0
  const isStanding = (t: number) => queued() > 0 && t - lastEmptyAt >= queueIntervalMs
  // CoDel's dropping state: the queue has stood, or a waiter was refused within the last interval (a queue
  // kept empty by refusing arrivals at once is still standing).
  const overloaded = (t: number) => isStanding(t) || t - lastDropAt < queueIntervalMs

  function decide(priority: Priority, admitted: boolean, waitedMs: number, reason?: RejectionReason): void {
    onDecision?.({ priority, admitted, waitedMs, inflight, limit: currentLimit(), ...(reason ? { reason } : {}) })
  }

  function refuse(priority: Priority, reason: RejectionReason, waitedMs = 0, expectedWaitMs?: number): Admission {
    decide(priority, false, waitedMs, reason)
    return expectedWaitMs === undefined ? { admitted: false, reason, waitedMs } : { admitted: false, reason, waitedMs, expectedWaitMs }
  }

  /**
   * Waiters served per ms: the higher of the rate measured lately and Little's law (limit ÷ service time).
   * Optimistic on purpose: a burst's first dequeues are its slowest (the upstream warming up), and a waiter
   * the estimate let in wrongly still leaves ahead of its deadline (`tooLate`), never sent upstream late.
   */
  function serviceRatePerMs(t: number): number | undefined {
    const measured = served.perMs(t)
    // Little's law at the shortest service time seen lately (BBR's min RTT): what the upstream does when
    // it is not slowed by the burst itself. The smoothed time of a cold start (first calls, JIT, the burst's
    // own CPU) refused a third of a fresh burst that then sold out well within its budget.
    const fastest = capacity.minServiceMs(t) ?? serviceMs
    const little = fastest > 0 ? currentLimit() / fastest : undefined
    if (measured === undefined) return little
    return little === undefined ? measured : Math.max(measured, little)
  }

  /** Expected wait behind `ahead` waiters that need the upstream; undefined while nothing is known. */
  function expectedWait(ahead: number, t: number): number | undefined {
    const rate = serviceRatePerMs(t)
    return rate === undefined ? undefined : ahead / rate
  }

  /** Whether a new waiter of `group` would be beyond what its group has left, less the calls in flight. */
  function isMoot(group: string | undefined): boolean {
    if (group === undefined || !groupBound) return false
    const bound = groupBound(group)
    return bound !== undefined && (groupQueued.get(group) ?? 0) + (groupInflight.get(group) ?? 0) >= bound
  }

  /** Whether a group (a sale's SKU) has nothing left: its waiters will all be answered without the upstream. */
  const exhausted = (group: string | undefined) => group !== undefined && groupBound?.(group) === 0

  /**
   * Core waiters that may still need the upstream: all of them, less each group's waiters beyond its bound.
   * O(groups queued): a sale's burst is a handful of groups, whatever its size.
   */
  function workQueued(): number {
    let moot = 0
    if (groupBound) {
      for (const [group, n] of groupQueued) {
        const bound = groupBound(group)
        if (bound !== undefined && n > bound) moot += n - Math.max(0, bound)
      }
    }
    return deadlineQueue.length - moot
  }

  /** A waiter leaves its queue (served, refused or gone): stop listening and uncount its group. */
  function leave(w: Waiter): void {
    w.cleanup()
    if (w.group === undefined) return
    const n = groupQueued.get(w.group)! - 1
    if (n === 0) groupQueued.delete(w.group)
    else groupQueued.set(w.group, n)
  }

  /** Whether the units allowance admits a call of `group` beyond the limit (see `groupAllowanceMax`). */
  const withinUnits = (group: string | undefined) =>
    group !== undefined &&
    groupBound !== undefined &&
    inflight < Math.min(groupAllowanceMax, ALLOWANCE_GAIN * currentLimit()) &&
    (groupInflight.get(group) ?? 0) < (groupBound(group) ?? 0)

  /** A deadline waiter that can no longer be served before its deadline. */
  const tooLate = (w: Waiter, t: number) => w.deadline !== undefined && t + reserveMs() > w.deadline

  function admit(priority: Priority, waitedMs: number, group?: string): Admission {
    inflight++
    if (group !== undefined) groupInflight.set(group, (groupInflight.get(group) ?? 0) + 1)
    const startedAt = now()
    const inflightAtStart = inflight
    let done = false
    const finish = () => {
      done = true
      inflight--
      if (group === undefined) return
      const n = groupInflight.get(group)! - 1
      if (n === 0) groupInflight.delete(group)
      else groupInflight.set(group, n)
    }
    // A completion while others wait is a measure of how fast the queue drains.
    const completed = (end: number, rttMs = 0) => {
      held(Math.max(rttMs, end - startedAt))
      if (!coreWaiting()) return
      served.record(end)
      // Over a whole ring of completions only: a windowed max keeps the highest sample, and completions
      // come in clumps, so a rate over a few of them overshoots.
      const rate = served.perMs(end, RATE_RING)
      if (rate !== undefined) capacity.rate(rate, end)
    }
    const permit: Permit = {
      priority,
      release(rttMs, dropped = false) {
        if (done) return
        finish()
        const end = now()
        const sample = { rttMs: rttMs ?? end - startedAt, inflight: inflightAtStart, dropped }
        completed(end, sample.rttMs)
        if (!dropped) capacity.serviceTime(sample.rttMs, end)
        if (sampler) sampler.add(end, sample)
        else algorithm.update(sample)
        drain()
      },
      ignore() {
        if (done) return
        finish()
        completed(now())
        drain()
      },
      unused() {
        if (done) return
        finish()
        drain()
      },
    }
    decide(priority, true, waitedMs)
    return { admitted: true, permit, waitedMs }
  }

  function noteIfEmpty(t: number): void {
    if (queued() === 0 && t - lastDropAt >= queueIntervalMs) lastEmptyAt = t
  }

  /** Times out waiters per CoDel; both queues are in arrival order, oldest first. */
  function expire(t: number): void {
    const timeout = isStanding(t) ? queueTargetMs : queueIntervalMs
    let dropped = 0
    // FIFO with deadlines that may differ by route: when the earliest may have run out, look at every
    // waiter (keeping the order) and learn the new earliest. Otherwise nobody can be too late: no scan.
    // A waiter of a group beyond the group's bound (the units its sale has left) will be answered without
    // the upstream, so it needs no time for a call: it stays until its deadline itself. Dropping it when a
    // call no longer fit refused 1,132 buyers of a 5,000-buyer burst at 1.6 s, who would have had their
    // sold-out answer a moment later.
    if (deadlineQueue.length > 0 && (t + reserveMs() > earliestDeadline || t >= earliestMootDeadline)) {
      let kept = 0
      earliestDeadline = Infinity
      earliestMootDeadline = Infinity
      // Per group: waiters kept so far (ahead of the next one) and its bound, read once per scan.
      const groups = groupBound ? new Map<string, { kept: number; bound: number | undefined }>() : undefined
      for (const w of deadlineQueue) {
        let g: { kept: number; bound: number | undefined } | undefined
        if (groups && w.group !== undefined) {
          g = groups.get(w.group)
          if (!g) {
            // Of the units left, the calls in flight may take some: the waiters beyond what remains are moot.
            const bound = groupBound!(w.group)
            groups.set(w.group, (g = { kept: 0, bound: bound === undefined ? undefined : Math.max(0, bound - (groupInflight.get(w.group) ?? 0)) }))
          }
        }
        const moot = g !== undefined && g.bound !== undefined && g.kept >= g.bound
        if (t >= w.deadline! || (!moot && tooLate(w, t))) {
          dropped++
          leave(w)
          w.resolve(refuse(w.priority, 'deadline', t - w.enqueuedAt))
        } else {
          deadlineQueue[kept++] = w
          if (g) g.kept++
          if (moot) earliestMootDeadline = Math.min(earliestMootDeadline, w.deadline!)
          else earliestDeadline = Math.min(earliestDeadline, w.deadline!)
        }
      }
      deadlineQueue.length = kept
    }
    for (const queue of [coreQueue, nonCoreQueue]) {
      while (queue.length > 0 && t - queue[0]!.enqueuedAt >= timeout) {
        const w = queue.shift()!
        dropped++
        leave(w)
        w.resolve(refuse(w.priority, 'queue_timeout', t - w.enqueuedAt))
      }
    }
    if (dropped > 0) lastDropAt = t
  }

  function drain(): void {
    const t = now()
    expire(t)
    const lifo = adaptiveLifo && isStanding(t)
    for (;;) {
      // Deadline waiters first (order placement and payment: what the sale is for), then the other core
      // waiters, then non-core, which never takes a slot while core requests wait.
      let queue: Waiter[] | undefined
      if (coreWaiting()) {
        if (inflight < capacityFor('core')) queue = deadlineQueue.length > 0 ? deadlineQueue : coreQueue
        else if (deadlineQueue.length > 0 && withinUnits(deadlineQueue[0]!.group)) queue = deadlineQueue
      } else if (nonCoreQueue.length > 0 && inflight < capacityFor('non-core')) {
        queue = nonCoreQueue
      }
      if (!queue) break
      const w = (lifo && queue !== deadlineQueue ? queue.pop() : queue.shift())!
      leave(w)
      // A waiter kept as moot whose sale got units back (a cancellation) may need the upstream after all:
      // it is sent only if a call still fits before its deadline.
      if (queue === deadlineQueue && tooLate(w, t) && !exhausted(w.group)) {
        lastDropAt = t
        w.resolve(refuse(w.priority, 'deadline', t - w.enqueuedAt))
        continue
      }
      w.resolve(admit(w.priority, t - w.enqueuedAt, w.group))
    }
    noteIfEmpty(t)
    arm(t)
  }

  /**
   * A group's bound fell to 0 (a sale sold out): its deadline waiters get their turn now, slot or not. Their
   * answer is known without the upstream, so each slot comes back `unused` at once; waiting for slots held
   * by the calls in flight kept a sold-out crowd waiting as long as the slowest of those calls.
   */
  function groupsChanged(): void {
    if (!groupBound || deadlineQueue.length === 0) return
    const t = now()
    const waiting: Waiter[] = []
    let kept = 0
    for (const w of deadlineQueue) {
      if (exhausted(w.group)) waiting.push(w)
      else deadlineQueue[kept++] = w
    }
    deadlineQueue.length = kept
    for (const w of waiting) {
      leave(w)
      w.resolve(admit(w.priority, t - w.enqueuedAt, w.group))
    }
    noteIfEmpty(t)
    arm(t)
  }

  /** One timer for the whole queue, set for the next moment a waiter could time out. */
  function arm(t: number): void {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (queued() === 0) return
    let next = Infinity
    if (coreQueue.length + nonCoreQueue.length > 0) {
      const oldest = Math.min(coreQueue[0]?.enqueuedAt ?? Infinity, nonCoreQueue[0]?.enqueuedAt ?? Infinity)
      // Before the queue stands, the next change is either the oldest reaching `interval` or the queue
      // becoming standing (lastEmptyAt + interval <= oldest + interval), whichever comes first.
      next = isStanding(t) ? oldest + queueTargetMs : lastEmptyAt + queueIntervalMs
    }
    // The first deadline waiter to run out of time. `earliestDeadline` may be a waiter already served (it is
    // only lowered on arrival, relearned by the scan in expire): then the timer fires early and rearms.
    if (deadlineQueue.length > 0) next = Math.min(next, earliestDeadline - reserveMs(), earliestMootDeadline)
    if (next === Infinity) return
    timer = setTimeout(drain, Math.max(1, Math.ceil(next - t)))
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
  }

  /**
   * Under a standing queue (arrivals have outpaced the drain for a whole interval) adaptive LIFO serves
   * every arrival before the core waiters already there. A waiter at place k (0 = the newest) expects to
   * wait for k + 1 completions, (k + 1) ÷ the rate the queue drains at, and under a standing queue its
   * budget is the target: only the `room` = rate × target newest can be served in time, unless arrivals
   * stop. While the rate is unknown one waiter may stay, as before the queue stood.
   */
  function lifoRoom(t: number): number {
    const rate = serviceRatePerMs(t)
    return rate === undefined ? 1 : Math.floor(rate * queueTargetMs)
  }

  /**
   * The oldest core waiters beyond the room are refused now rather than when the target runs out, making
   * room for the arrival: a refusal is an answer, and the sooner the better (bench/overload's refusals went
   * from p50 6.1 ms to 3.8 ms).
   */
  function makeRoomUnderLifo(t: number): void {
    const room = lifoRoom(t)
    while (coreQueue.length > 0 && coreQueue.length >= room) {
      const oldest = coreQueue.shift()!
      leave(oldest)
      oldest.resolve(refuse(oldest.priority, 'queue_timeout', t - oldest.enqueuedAt))
      lastDropAt = t
    }
  }

  /** Whether a request of `priority` gets a slot now: nobody who would be served first waits, and the class has one free. */
  const slotNow = (priority: Priority) => !(priority === 'core' ? coreWaiting() : queued() > 0) && inflight < capacityFor(priority)

  /**
   * The refusal an arrival without a deadline that finds no free slot gets at once, if any: non-core while
   * core requests wait or the queue stands (`shed`); core under a standing queue when not even one waiter
   * fits the target, the next slot being expected to free later than that (`queue_timeout` after 0 ms,
   * with the time to that slot for a Retry-After; bench/overload: refusals within 5 ms at the gateway went
   * from 88% to 95-99.9%).
   */
  function refusalAtOnce(priority: Priority, t: number): Admission | undefined {
    if (priority === 'non-core') return coreWaiting() || isStanding(t) ? refuse(priority, 'shed') : undefined
    if (!adaptiveLifo || !overloaded(t) || lifoRoom(t) > 0) return undefined
    lastDropAt = t
    const rate = serviceRatePerMs(t)
    return refuse(priority, 'queue_timeout', 0, rate === undefined ? undefined : 1 / rate)
  }

  /**
   * Admits now if nobody who would be served first is waiting and the class has a free slot, or, for a
   * deadline request of a group (`group` is given only for those), nobody of that queue waits and the units
   * allowance has room.
   */
  function tryAdmitNow(priority: Priority, group?: string): Admission | undefined {
    return slotNow(priority) || (deadlineQueue.length === 0 && withinUnits(group)) ? admit(priority, 0, group) : undefined
  }

  function acquire(priority: Priority = 'core', options: AcquireOptions = {}): Promise<Admission> {
    const { signal } = options
    if (signal?.aborted) return Promise.reject(signal.reason)
    const t = now()
    expire(t)
    const immediate = tryAdmitNow(priority, deadlineMode && priority === 'core' && options.deadline !== undefined ? options.group : undefined)
    if (immediate) {
      noteIfEmpty(t)
      return Promise.resolve(immediate)
    }

    if (maxQueue === 0) return Promise.resolve(refuse(priority, 'limit'))
    // Deadline waiters that may need the upstream (a group's beyond its bound hold no place), once per arrival.
    const ahead = workQueued()
    const work = ahead + coreQueue.length
    const deadline = deadlineMode && priority === 'core' ? options.deadline : undefined
    if (deadline !== undefined) {
      // Beyond what its group has left (less the calls in flight), a waiter will be answered without the
      // upstream once the work ahead of it is done: it needs neither a place in the work nor time for a call.
      const moot = isMoot(options.group)
      const wait = expectedWait(moot ? ahead : ahead + 1, t)
      if (t + (wait ?? 0) + (moot ? 0 : reserveMs()) > deadline) {
        lastDropAt = t
        return Promise.resolve(refuse(priority, 'deadline', 0, wait === undefined ? undefined : expectedWait(ahead, t)))
      }
    }
    if (deadline === undefined) {
      if (priority === 'core' && adaptiveLifo && overloaded(t)) makeRoomUnderLifo(t)
      const refusal = refusalAtOnce(priority, t)
      if (refusal) return Promise.resolve(refusal)
    }
    if (work + nonCoreQueue.length >= maxQueue || queued() >= maxQueueHeads) {
      if (priority === 'non-core' || nonCoreQueue.length === 0) return Promise.resolve(refuse(priority, 'queue_full'))
      const displaced = nonCoreQueue.pop()!
      leave(displaced)
      displaced.resolve(refuse(displaced.priority, 'shed', t - displaced.enqueuedAt))
    }

    return new Promise<Admission>((resolve, reject) => {
      noteIfEmpty(t)
      const queue = deadline !== undefined ? deadlineQueue : priority === 'core' ? coreQueue : nonCoreQueue
      const onAbort = () => {
        const i = queue.indexOf(waiter)
        if (i >= 0) {
          queue.splice(i, 1)
          leave(waiter)
        }
        reject(signal?.reason)
      }
      if (deadline !== undefined) earliestDeadline = Math.min(earliestDeadline, deadline)
      const group = deadline !== undefined ? options.group : undefined
      const waiter: Waiter = {
        priority,
        enqueuedAt: t,
        ...(deadline === undefined ? {} : { deadline }),
        group,
        resolve,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (group !== undefined) groupQueued.set(group, (groupQueued.get(group) ?? 0) + 1)
      queue.push(waiter)
      arm(t)
    })
  }

  return {
    acquire,
    tryAcquire: (priority = 'core') => tryAdmitNow(priority) ?? refuse(priority, 'limit'),
    groupsChanged,
    refusedNow(priority = 'core') {
      const t = now()
      expire(t)
      if (slotNow(priority)) return undefined
      const refusal = maxQueue === 0 ? refuse(priority, 'limit') : refusalAtOnce(priority, t)
      return refusal?.admitted === false ? refusal : undefined
    },
    get limit() {
      return currentLimit()
    },
    get inflight() {
      return inflight
    },
    snapshot() {
      return {
        limit: currentLimit(),
        floor: capacity.floor(now()),
        inflight,
        queuedCore: deadlineQueue.length + coreQueue.length,
        queuedNonCore: nonCoreQueue.length,
        standingQueue: overloaded(now()),
        servedPerSecond: (served.perMs(now()) ?? 0) * 1000,
        serviceMs,
        reserveMs: reserveMs(),
      }
    },
    close() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      const t = now()
      for (const w of [...deadlineQueue.splice(0), ...coreQueue.splice(0), ...nonCoreQueue.splice(0)]) {
        leave(w)
        w.resolve(refuse(w.priority, 'limit', t - w.enqueuedAt))
      }
      lastEmptyAt = t
      lastDropAt = -Infinity
      earliestDeadline = Infinity
      earliestMootDeadline = Infinity
    },
  }
}

/**
 * The rate at which the queue drains: the span of the last `size` completions seen while requests queued
 * (slots given back `unused` are not service), as long
 * as the newest is recent (`maxAgeMs`). Undefined until `minSamples` were seen, or once the queue has been
 * idle that long (a new burst measures afresh, meanwhile Little's law answers).
 */
const RATE_RING = 64

/**
 * How far beyond the limit the units allowance goes: twice it. Up to LIMIT_MAX (200) alone, a 300-unit sale's
 * opening (make load-burst STOCK=300, 1,000 buyers) sent 200 calls at once; on a cold gateway they took up to
 * 2.6 s and 70 buyers got 504s. At twice the limit the same burst sold its 300 units with 0-8 errors; with no
 * allowance it sold 209-265 of them (ADR 0041).
 */
const ALLOWANCE_GAIN = 2

function createServiceRate({ size = RATE_RING, minSamples = 16, maxAgeMs = 1_000 } = {}) {
  const times = new Float64Array(size)
  let count = 0
  let next = 0
  return {
    record(t: number): void {
      times[next] = t
      next = (next + 1) % size
      count = Math.min(size, count + 1)
    },
    perMs(t: number, atLeast = minSamples): number | undefined {
      if (count < atLeast) return undefined
      const newest = times[(next - 1 + size) % size]!
      const oldest = times[(next - count + size) % size]!
      if (t - newest > maxAgeMs || newest <= oldest) return undefined
      return (count - 1) / (newest - oldest)
    },
  }
}

/**
 * Twice the bandwidth-delay product over a sliding window, as BBR estimates it: the highest drain rate seen
 * (a windowed max; only rates measured while requests queued, i.e. while the upstream was kept busy, as BBR
 * ignores app-limited samples) × the lowest service time seen (a windowed min). Each is kept as the
 * extreme of the current and the previous window, so an old extreme ages out within two windows.
 */
function createCapacityFloor(options: CapacityFloorOptions | undefined, start: number) {
  // Without the option the windows still run (deadline admission reads the shortest service time), the floor is 0.
  const { windowMs = 30_000, initial = 0, max = Infinity } = options ?? {}
  if (!(windowMs > 0)) throw new RangeError(`capacityFloor.windowMs must be positive, got ${windowMs}`)
  let windowStart = start
  let maxRate = [0, 0] // per ms: [previous window, current window]
  let minService = [Infinity, Infinity]
  const roll = (t: number) => {
    if (t - windowStart < windowMs) return
    const skipped = t - windowStart >= 2 * windowMs
    maxRate = [skipped ? 0 : maxRate[1]!, 0]
    minService = [skipped ? Infinity : minService[1]!, Infinity]
    windowStart = t
  }
  return {
    floor(t: number): number {
      if (!options) return 0
      roll(t)
      const rate = Math.max(maxRate[0]!, maxRate[1]!)
      const service = Math.min(minService[0]!, minService[1]!)
      return Math.min(max, rate > 0 && service < Infinity ? Math.max(1, Math.round(2 * rate * service)) : initial)
    },
    rate(perMs: number, t: number): void {
      roll(t)
      maxRate[1] = Math.max(maxRate[1]!, perMs)
    },
    serviceTime(ms: number, t: number): void {
      roll(t)
      if (ms > 0) minService[1] = Math.min(minService[1]!, ms)
    },
    /** The shortest service time seen over the window (undefined before any). */
    minServiceMs(t: number): number | undefined {
      roll(t)
      const service = Math.min(minService[0]!, minService[1]!)
      return service < Infinity ? service : undefined
    },
  }
}
