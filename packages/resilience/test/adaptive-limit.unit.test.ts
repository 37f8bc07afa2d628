import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import { setImmediate as flush } from 'node:timers/promises'
import {
  createAdaptiveLimit,
  createFixedLimit,
  createGradient2Limit,
  createVegasLimit,
  type Admission,
  type LimitAlgorithm,
  type LimitDecision,
  type Permit,
} from '../src/index.ts'

function permitOf(a: Admission): Permit {
  assert.ok(a.admitted, `expected admission, got ${a.admitted ? '' : a.reason}`)
  return a.permit
}

/** A limit the test moves by hand. */
function settableLimit(initial: number): LimitAlgorithm & { set(n: number): void } {
  let limit = initial
  return {
    get limit() {
      return limit
    },
    update: () => limit,
    set(n) {
      limit = n
    },
  }
}

/**
 * An upstream with `capacity` workers: up to `capacity` concurrent requests take 10 ms, beyond that they
 * queue inside it and the RTT grows in proportion. Each round admits as many requests as the limiter
 * allows, advances the clock by their RTT and releases them. Returns the limit at the end.
 */
function simulate(algorithm: LimitAlgorithm, phases: { capacity: number; ms: number }[]): number[] {
  let t = 0
  const limiter = createAdaptiveLimit({ algorithm, now: () => t }) // Netflix's 1 s sample windows
  const ends: number[] = []
  for (const { capacity, ms } of phases) {
    const end = t + ms
    while (t < end) {
      const permits: Permit[] = []
      for (let a = limiter.tryAcquire(); a.admitted; a = limiter.tryAcquire()) permits.push(a.permit)
      const rtt = 10 * Math.max(1, permits.length / capacity)
      t += rtt
      for (const p of permits) p.release()
    }
    ends.push(limiter.limit)
  }
  return ends
}

describe('adaptive limit: convergence against a simulated upstream (simulated clock)', () => {
  for (const [name, make] of [
    ['Gradient2', () => createGradient2Limit({ minLimit: 5 })],
    ['Vegas', () => createVegasLimit({ random: () => 0.5 })],
  ] as const) {
    it(`${name}: climbs while the upstream keeps up, converges down when it slows, and back up when it recovers`, () => {
      const [healthy, slowed, recovered] = simulate(make(), [
        { capacity: 100, ms: 60_000 },
        { capacity: 20, ms: 60_000 },
        { capacity: 100, ms: 60_000 },
      ])
      assert.ok(healthy! > 60, `${name} grew to ${healthy} against a 100-wide upstream`)
      assert.ok(slowed! < healthy! * 0.7, `${name} fell from ${healthy} to ${slowed} when the upstream shrank to 20`)
      assert.ok(recovered! > slowed! * 1.5, `${name} recovered from ${slowed} to ${recovered}`)
    })
  }
})

describe('adaptive limit: admission', () => {
  it('never has more in flight than the limit at the moment it admits, while the limit moves', async () => {
    const limit = settableLimit(10)
    const decisions: LimitDecision[] = []
    let t = 0
    const limiter = createAdaptiveLimit({ algorithm: limit, window: false, now: () => t, onDecision: (d) => decisions.push(d) })
    const held: Permit[] = []
    let seed = 7
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const pending: Promise<void>[] = []
    for (let step = 0; step < 3_000; step++) {
      t += 1
      const r = rand()
      if (r < 0.05) limit.set(1 + Math.floor(rand() * 20))
      else if (r < 0.5) {
        const priority = rand() < 0.3 ? 'non-core' : 'core'
        pending.push(limiter.acquire(priority).then((a) => void (a.admitted && held.push(a.permit))))
      } else if (held.length > 0) held.splice(Math.floor(rand() * held.length), 1)[0]!.release()
      if (step % 10 === 0) await flush()
    }
    limiter.close()
    await Promise.all(pending)
    const admitted = decisions.filter((d) => d.admitted)
    assert.ok(admitted.length > 500, `only ${admitted.length} admissions: the walk did not exercise the limiter`)
    for (const d of admitted) {
      const cap = d.priority === 'core' ? d.limit : Math.floor(d.limit * 0.8)
      assert.ok(d.inflight <= cap, `admitted ${d.priority} with ${d.inflight} in flight over ${cap}`)
    }
  })

  it('tryAcquire refuses with `limit` when no slot is free, and a released slot is reused', () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(2), window: false })
    const a = permitOf(limiter.tryAcquire())
    permitOf(limiter.tryAcquire())
    assert.deepEqual(limiter.tryAcquire(), { admitted: false, reason: 'limit', waitedMs: 0 })
    a.release()
    a.release() // a second release is ignored: it must not free a slot twice
    assert.equal(limiter.inflight, 1)
    permitOf(limiter.tryAcquire())
    assert.equal(limiter.tryAcquire().admitted, false)
  })

  it('with maxQueue 0 an acquire at the limit is refused at once with `limit`', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(1), window: false, maxQueue: 0 })
    permitOf(await limiter.acquire())
    assert.deepEqual(await limiter.acquire(), { admitted: false, reason: 'limit', waitedMs: 0 })
  })

  it('refuses with `queue_full` when the wait queue is at maxQueue', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(1), window: false, maxQueue: 2 })
    const first = permitOf(await limiter.acquire())
    const waiting = [limiter.acquire(), limiter.acquire()]
    assert.deepEqual(await limiter.acquire(), { admitted: false, reason: 'queue_full', waitedMs: 0 })
    limiter.close()
    first.release()
    await Promise.all(waiting)
  })

  it('feeds the algorithm the RTT on release, and nothing on ignore()', () => {
    const samples: number[] = []
    let t = 0
    const algorithm = { limit: 5, update: (s: { rttMs: number }) => (samples.push(s.rttMs), 5) }
    const limiter = createAdaptiveLimit({ algorithm, window: false, now: () => t })
    const a = permitOf(limiter.tryAcquire())
    const b = permitOf(limiter.tryAcquire())
    t = 42
    a.release()
    b.ignore()
    permitOf(limiter.tryAcquire()).release(7, true)
    assert.deepEqual(samples, [42, 7])
    assert.equal(limiter.inflight, 0)
  })

  it('a waiter whose signal aborts leaves the queue and its acquire rejects with the reason', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(1), window: false })
    const held = permitOf(await limiter.acquire())
    const ac = new AbortController()
    const waiting = limiter.acquire('core', { signal: ac.signal })
    assert.equal(limiter.snapshot().queuedCore, 1)
    ac.abort(new Error('client went away'))
    await assert.rejects(waiting, /client went away/)
    assert.equal(limiter.snapshot().queuedCore, 0)
    held.release()
    assert.equal(limiter.inflight, 0, 'the freed slot went to nobody')
  })
})

describe('adaptive limit: priority shedding (non-core first, core keeps 20%)', () => {
  it('admits non-core only below 80% of the limit, while core still gets the remaining 20%', () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(10), window: false })
    for (let i = 0; i < 8; i++) permitOf(limiter.tryAcquire('non-core'))
    assert.deepEqual(limiter.tryAcquire('non-core'), { admitted: false, reason: 'limit', waitedMs: 0 })
    permitOf(limiter.tryAcquire('core'))
    permitOf(limiter.tryAcquire('core'))
    assert.equal(limiter.tryAcquire('core').admitted, false)
  })

  it('serves waiting core requests before waiting non-core requests that came earlier', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(2), window: false })
    const held = [permitOf(await limiter.acquire('core')), permitOf(await limiter.acquire('core'))]
    const order: string[] = []
    const nonCore = limiter.acquire('non-core').then((a) => (order.push('non-core'), a))
    const core = limiter.acquire('core').then((a) => (order.push('core'), a))
    held[0]!.release()
    await flush()
    assert.deepEqual(order, ['core'])
    permitOf(await core).release()
    held[1]!.release()
    permitOf(await nonCore)
    assert.deepEqual(order, ['core', 'non-core'])
  })

  it('a core arrival at a full queue displaces the newest non-core waiter (`shed`), and non-core arriving while core waits is shed at once', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(5), window: false, maxQueue: 2, now: () => 0 })
    const held = await Promise.all([1, 2, 3, 4, 5].map(() => limiter.acquire('core').then(permitOf)))
    const nonCoreOld = limiter.acquire('non-core')
    const nonCoreNew = limiter.acquire('non-core')
    const core = limiter.acquire('core')
    assert.deepEqual(await nonCoreNew, { admitted: false, reason: 'shed', waitedMs: 0 })
    assert.deepEqual(await limiter.acquire('non-core'), { admitted: false, reason: 'shed', waitedMs: 0 })
    held[0]!.release()
    permitOf(await core)
    held[1]!.release() // 4 in flight: non-core (at most 80% of 5 = 4) still waits
    assert.equal(limiter.snapshot().queuedNonCore, 1)
    held[2]!.release()
    permitOf(await nonCoreOld)
  })
})

describe('adaptive limit: CoDel queue timeout (target 5 ms, interval 100 ms; mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }))
  afterEach(() => mock.timers.reset())

  async function advance(ms: number) {
    for (let i = 0; i < ms; i++) {
      mock.timers.tick(1)
      await flush()
    }
  }

  /** One slot; every decision recorded with its time; `hold` keeps an admitted request `holdMs`. */
  function oneSlotLimiter(holdMs: number) {
    const decisions: (LimitDecision & { at: number })[] = []
    const limiter = createAdaptiveLimit({
      algorithm: createFixedLimit(1),
      window: false,
      now: Date.now,
      onDecision: (d) => decisions.push({ ...d, at: Date.now() }),
    })
    const hold = (a: Admission) => void (a.admitted && setTimeout(() => a.permit.release(), holdMs))
    return { limiter, decisions, hold }
  }

  it('without a standing queue a waiter may wait up to the interval (100 ms), then gets `queue_timeout`', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(1), window: false, now: Date.now })
    permitOf(await limiter.acquire())
    let answer: Admission | undefined
    void limiter.acquire().then((a) => (answer = a))
    await advance(99)
    assert.equal(answer, undefined)
    await advance(1)
    assert.deepEqual(answer, { admitted: false, reason: 'queue_timeout', waitedMs: 100 })
  })

  it('once the queue has not been empty for 100 ms, waiters time out after 5 ms and the newest is served first (adaptive LIFO)', async () => {
    // One slot held for 4 ms per request, one arrival every 2 ms: twice what the upstream can take. The slot
    // drains 0.25 requests per ms, so one waiter fits the 5 ms target and may wait.
    const { limiter, decisions, hold } = oneSlotLimiter(4)
    for (let at = 0; at < 400; at += 2) {
      void limiter.acquire().then(hold)
      if (at === 150) assert.equal(limiter.snapshot().standingQueue, true)
      await advance(2)
    }
    const early = decisions.filter((d) => d.at < 100)
    const late = decisions.filter((d) => d.at >= 150)
    assert.ok(
      early.some((d) => d.admitted && d.waitedMs > 5),
      'before the queue stands, waiting longer than 5 ms is fine',
    )
    assert.ok(
      late.some((d) => d.reason === 'queue_timeout'),
      'a standing queue drops waiters',
    )
    for (const d of late) assert.ok(d.waitedMs <= 5, `waited ${d.waitedMs} ms at ${d.at} ms under a standing queue`)
    assert.ok(
      late.some((d) => d.admitted && d.waitedMs > 0),
      'a waiter the slot can take within the target still waits for it',
    )
    assert.ok(late.filter((d) => d.admitted).length >= 40, 'the upstream stays busy')

    // Load stops: one interval after the last drop, an empty queue counts as empty again and the next
    // waiter may wait the whole interval again.
    await advance(150)
    assert.equal(limiter.inflight, 0)
    const held = permitOf(await limiter.acquire())
    let answer: Admission | undefined
    void limiter.acquire().then((a) => (answer = a))
    await advance(99)
    assert.equal(answer, undefined, 'a lone waiter after the overload still gets the 100 ms interval')
    held.release()
    await flush()
    assert.equal((answer as Admission | undefined)?.admitted, true)
  })

  it('under a sustained overload that the drops keep emptying, the timeout stays at 5 ms (no 100 ms sawtooth)', async () => {
    // One slot held 8 ms per request (125 requests/s), arrivals in bursts of 4 every 10 ms (400/s), as
    // arrivals come off an event loop. Each burst: one is admitted, the rest time out 5 ms later; so the
    // queue is empty, and the slot free, just before the next burst. None of those moments may end the
    // overload and give the next burst the 100 ms interval again.
    const { limiter, decisions, hold } = oneSlotLimiter(8)
    for (let at = 0; at < 1_000; at += 10) {
      for (let i = 0; i < 4; i++) void limiter.acquire().then(hold)
      await advance(10)
    }
    const late = decisions.filter((d) => d.at >= 300)
    assert.ok(late.filter((d) => d.reason === 'queue_timeout').length >= 50, 'the excess is dropped')
    assert.ok(late.filter((d) => d.admitted).length >= 50, 'the upstream stays busy')
    const slowest = Math.max(...late.map((d) => d.waitedMs))
    assert.ok(slowest <= 5, `under the overload nobody waits longer than the 5 ms target; the slowest waited ${slowest} ms`)
  })

  it('under a standing queue an arrival refuses the oldest waiter at once when the slot cannot take both within the target (LIFO serves the arrival first)', async () => {
    // One slot held 10 ms per request, an arrival every 2 ms: five times the capacity. At most 10 ms x
    // 0.1/ms = 1 waiter can be served within 5 ms, so each arrival refuses the waiter before it, 2 ms old,
    // instead of letting it wait out the 5 ms target.
    const { limiter, decisions, hold } = oneSlotLimiter(10)
    for (let at = 0; at < 600; at += 2) {
      void limiter.acquire().then(hold)
      await advance(2)
    }
    const late = decisions.filter((d) => d.at >= 200)
    const refused = late.filter((d) => !d.admitted)
    assert.ok(refused.length >= 150, `${refused.length} refused`)
    assert.ok(late.filter((d) => d.admitted).length >= 30, 'the upstream stays busy')
    const waited = refused.map((d) => d.waitedMs).sort((a, b) => a - b)
    const p99 = waited[Math.floor(waited.length * 0.99)]!
    assert.ok(p99 <= 2, `refusals waited p99 ${p99} ms, at most ${waited.at(-1)} ms`)
  })

  it('under a standing queue an arrival is refused at once when not even one waiter fits the target: the slot frees later than 5 ms', async () => {
    // One slot held 10 ms per request (0.1 per ms: the next one frees in 10 ms, twice the target), an
    // arrival every 3 ms. An arrival that finds the slot busy is refused on the spot, with the time to the
    // next free slot for its Retry-After; one that finds it free takes it.
    const { limiter, hold } = oneSlotLimiter(10)
    const answers: (Admission & { at: number })[] = []
    for (let at = 0; at < 900; at += 3) {
      void limiter.acquire().then((a) => {
        answers.push({ ...a, at })
        hold(a)
      })
      await advance(3)
    }
    const late = answers.filter((a) => a.at >= 300)
    const refused = late.filter((a) => !a.admitted)
    assert.ok(refused.length >= 100, `${refused.length} refused`)
    for (const a of refused) {
      assert.equal(a.admitted ? '' : a.reason, 'queue_timeout')
      assert.equal(a.waitedMs, 0, `an arrival at ${a.at} ms waited ${a.waitedMs} ms for its refusal`)
      const expected = a.admitted ? undefined : a.expectedWaitMs
      assert.ok(expected !== undefined && expected >= 5 && expected <= 20, `expected wait ${expected} ms: the time to the next free slot`)
    }
    // Each slot's turn costs at most one gap between arrivals: 600 ms / (10 + 3) ms.
    assert.ok(late.filter((a) => a.admitted).length >= 45, 'the upstream stays busy')
  })
})

describe('adaptive limit: deadline admission of core requests (FIFO; mock clock and timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }))
  afterEach(() => mock.timers.reset())

  /**
   * A fixed limit whose service time the limiter has learned: requests that each took `serviceMs`, enough
   * of them that the smoothed deviation (RFC 6298's RTTVAR, first set to half the first sample) is ~0.
   */
  async function deadlineLimiter(limit: number, serviceMs: number, units?: { left: number }) {
    const decisions: LimitDecision[] = []
    const limiter = createAdaptiveLimit({
      algorithm: createFixedLimit(limit),
      window: false,
      coreQueue: 'deadline',
      maxQueue: 10_000,
      now: Date.now,
      // With `units`: the waiters of group 'sale' compete for them (a bound the test moves by hand).
      ...(units ? { groupBound: (group: string) => (group === 'sale' ? units.left : undefined) } : {}),
      onDecision: (d) => decisions.push(d),
    })
    for (let i = 0; i < 24; i++) permitOf(await limiter.acquire('core', { deadline: Date.now() + 1_000 })).release(serviceMs)
    assert.ok(limiter.snapshot().reserveMs < serviceMs * 1.01)
    decisions.length = 0
    return { limiter, decisions }
  }

  /** Admitted requests are each released `serviceMs` after admission (the first `firstMs`); resolves with every admission. */
  function serveAll(admissions: Promise<Admission>[], serviceMs: number, firstMs = serviceMs) {
    return admissions.map((p, i) => p.then((a) => (a.admitted && setTimeout(() => a.permit.release(serviceMs), i === 0 ? firstMs : serviceMs), a)))
  }

  async function advance(ms: number, step = 1) {
    for (let i = 0; i < ms; i += step) {
      mock.timers.tick(step)
      await flush()
    }
  }

  it('a burst the upstream can serve within the budget is admitted whole, first come first served', async () => {
    // 10 slots x 10 ms each: 1 per ms. 300 arrivals need ~300 ms, well inside a 2 s budget.
    const { limiter, decisions } = await deadlineLimiter(10, 10)
    const order: number[] = []
    const burst = serveAll(
      Array.from({ length: 300 }, (_, i) => limiter.acquire('core', { deadline: 2_000 }).then((a) => (a.admitted && order.push(i), a))),
      10,
    )
    await advance(400, 5)
    const answers = await Promise.all(burst)
    assert.equal(answers.filter((a) => a.admitted).length, 300, `refused: ${JSON.stringify(decisions.filter((d) => !d.admitted).slice(0, 3))}`)
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'served in arrival order',
    )
  })

  it('a burst beyond what fits in the budget: the excess is refused at once (waited 0 ms) with the time the queue needs to drain', async () => {
    // 2 slots x 100 ms: 1 per 50 ms. With a 1 s deadline about 18 can be served in time; 100 arrive.
    const { limiter, decisions } = await deadlineLimiter(2, 100)
    const burst = Array.from({ length: 100 }, () => limiter.acquire('core', { deadline: 1_000 }))
    const settledAtOnce: Admission[] = []
    for (const p of burst) void p.then((a) => settledAtOnce.push(a))
    await flush()
    const refused = settledAtOnce.filter((a) => !a.admitted)
    const admittedOrQueued = 100 - refused.length
    assert.ok(admittedOrQueued >= 15 && admittedOrQueued <= 21, `${admittedOrQueued} kept in line`)
    for (const r of refused) {
      assert.equal(r.admitted, false)
      if (r.admitted) continue
      assert.equal(r.reason, 'deadline')
      assert.equal(r.waitedMs, 0, 'refused on arrival, not after waiting')
      assert.ok(r.expectedWaitMs !== undefined && r.expectedWaitMs >= 700 && r.expectedWaitMs <= 1_100, `expected wait ${r.expectedWaitMs}`)
    }
    // The ones kept are all served before their deadline. (The first request finishes early, so the two slots
    // free up 50 ms apart, as they do in a real service, rather than in lockstep.)
    const kept = serveAll(burst, 100, 50)
    await flush() // the releases of the two admitted at once are timed from now (0 ms)
    await advance(1_100)
    const final = await Promise.all(kept)
    assert.equal(
      final.filter((a) => a.admitted).length,
      admittedOrQueued,
      `everyone kept in line was served; dropped later: ${JSON.stringify(decisions.filter((d) => !d.admitted && d.waitedMs > 0))}`,
    )
  })

  it('a waiter that can no longer be served before its deadline leaves the queue with `deadline`, ahead of the deadline', async () => {
    const { limiter } = await deadlineLimiter(1, 50)
    const held = permitOf(await limiter.acquire('core', { deadline: 10_000 })) // the slot is taken and not given back
    const waiting = limiter.acquire('core', { deadline: 300 })
    const seen: { answer?: Admission } = {}
    void waiting.then((a) => (seen.answer = a))
    await advance(240)
    assert.equal(seen.answer, undefined, 'still inside its budget')
    await advance(20) // at 250 = 300 - 50 ms of service, it could not finish in time any more
    const answer = seen.answer as Admission | undefined
    assert.ok(answer !== undefined && !answer.admitted && answer.reason === 'deadline', JSON.stringify(answer))
    held.release()
  })

  it('waiters of a group beyond its bound cost no wait: a crowd after the last units is queued, not refused, and given back unused', async () => {
    // 2 slots x 100 ms: 1 per 50 ms, so a 1 s budget fits ~18 waiters by head count. 100 want 5 units.
    let unitsLeft = 5
    const decisions: LimitDecision[] = []
    const limiter = createAdaptiveLimit({
      algorithm: createFixedLimit(2),
      window: false,
      coreQueue: 'deadline',
      maxQueue: 10_000,
      now: Date.now,
      groupBound: (group) => (group === 'sale' ? unitsLeft : undefined),
      onDecision: (d) => decisions.push(d),
    })
    permitOf(await limiter.acquire('core', { deadline: 1_000 })).release(100)
    decisions.length = 0
    let sold = 0
    let refusedUpstream = 0
    let toldSoldOut = 0
    // What the gateway does with a slot: nothing left by then -> answer without the upstream (unused).
    const crowd = Array.from({ length: 100 }, () =>
      limiter.acquire('core', { deadline: 1_000, group: 'sale' }).then((a) => {
        if (!a.admitted) return a
        if (unitsLeft === 0) {
          toldSoldOut++
          a.permit.unused()
        } else {
          // The stock gate: a unit if one is left by the time the call gets there, else sold out.
          setTimeout(() => {
            if (unitsLeft > 0) {
              unitsLeft--
              sold++
            } else refusedUpstream++
            a.permit.release(100)
          }, 100)
        }
        return a
      }),
    )
    // A request of no group behind the crowd waits for the work that remains, not for 100 heads.
    const other = limiter.acquire('core', { deadline: 1_000 })
    await flush()
    assert.deepEqual(
      decisions.filter((d) => !d.admitted),
      [],
      'nobody refused on arrival',
    )
    await advance(400, 5)
    const answers = await Promise.all(crowd)
    assert.equal(answers.filter((a) => !a.admitted).length, 0, 'nobody refused while waiting')
    assert.equal(sold, 5)
    assert.equal(sold + refusedUpstream + toldSoldOut, 100)
    assert.ok(toldSoldOut >= 90, `${toldSoldOut} got their answer without an upstream call`)
    assert.equal((await other).admitted, true, 'the request of no group was served in time')
    assert.equal(limiter.inflight, 1, 'unused slots came back (the other request still holds its own)')
  })

  it('waiters beyond what the calls in flight leave of a group stay past the point a call would no longer fit, and get their turn', async () => {
    // 2 units left, 2 calls of the sale in flight (they will take them), 5 more buyers with a 300 ms budget;
    // a call takes 100 ms, so from 200 ms on none of the 5 could still make one. They need none.
    const units = { left: 2 }
    const { limiter, decisions } = await deadlineLimiter(2, 100, units)
    const start = Date.now()
    const inFlight = [
      permitOf(await limiter.acquire('core', { deadline: start + 10_000, group: 'sale' })),
      permitOf(await limiter.acquire('core', { deadline: start + 10_000, group: 'sale' })),
    ]
    // The gateway answers each one sold out without the upstream as soon as it has a slot (unused).
    const crowd = Array.from({ length: 5 }, () =>
      limiter.acquire('core', { deadline: start + 300, group: 'sale' }).then((a) => (a.admitted && a.permit.unused(), a)),
    )
    const answered: Admission[] = []
    for (const p of crowd) void p.then((a) => answered.push(a))
    await advance(250, 5)
    assert.deepEqual(answered, [], 'nobody dropped for want of time for a call they will not make')
    units.left = 0 // the two calls took the last units
    for (const p of inFlight) p.release(100)
    await flush()
    const answers = await Promise.all(crowd)
    assert.equal(answers.filter((a) => a.admitted).length, 5, JSON.stringify(decisions.filter((d) => !d.admitted)))
  })

  it('a waiter that needs the upstream is still dropped when a call no longer fits, and the moot one behind it takes its place', async () => {
    // 1 unit left, nothing in flight: the first buyer of the sale may need the upstream, the 3 behind it not
    // (so they are queued, not refused on arrival).
    const units = { left: 1 }
    const { limiter } = await deadlineLimiter(1, 100, units)
    const start = Date.now()
    const held = permitOf(await limiter.acquire('core', { deadline: start + 10_000 })) // another route holds the slot
    const answered: { i: number; a: Admission; at: number }[] = []
    const crowd = Array.from({ length: 4 }, (_, i) =>
      limiter.acquire('core', { deadline: start + 300, group: 'sale' }).then((a) => (answered.push({ i, a, at: Date.now() - start }), a)),
    )
    await advance(230)
    // At 200 ms the first one could no longer finish a call; with it gone the next one may need the unit, and so on:
    // all four may need the one unit in turn, so all four leave, ahead of their deadline.
    assert.equal(answered.length, 4, JSON.stringify(answered))
    for (const { a, at } of answered) {
      assert.ok(!a.admitted && a.reason === 'deadline', JSON.stringify(a))
      assert.ok(at >= 200 && at < 300, `left at ${at} ms`)
    }
    held.release()
    await Promise.all(crowd)
  })

  it('a moot waiter whose sale got units back is sent only if a call still fits; else refused when its turn comes', async () => {
    const units = { left: 1 }
    const { limiter } = await deadlineLimiter(1, 100, units)
    const start = Date.now()
    const call = permitOf(await limiter.acquire('core', { deadline: start + 10_000, group: 'sale' })) // will take the unit
    const waiter = limiter.acquire('core', { deadline: start + 300, group: 'sale' })
    const seen: { a?: Admission } = {}
    void waiter.then((a) => (seen.a = a))
    await advance(250, 5)
    assert.equal(seen.a, undefined, 'moot while the call in flight may take the last unit')
    call.release(100) // ... but the reservation failed: the unit is still there (units.left stays 1)
    await flush()
    const a = await waiter
    assert.ok(!a.admitted && a.reason === 'deadline', `250 ms + a 100 ms call > 300 ms budget: ${JSON.stringify(a)}`)
  })

  it('a moot waiter nobody serves is refused at its deadline', async () => {
    const units = { left: 0 }
    const { limiter } = await deadlineLimiter(1, 100, units)
    const start = Date.now()
    const held = permitOf(await limiter.acquire('core', { deadline: start + 10_000 }))
    const seen: { a?: Admission; at?: number } = {}
    void limiter.acquire('core', { deadline: start + 300, group: 'sale' }).then((a) => ((seen.a = a), (seen.at = Date.now() - start)))
    await advance(290, 5)
    assert.equal(seen.a, undefined, 'kept until its deadline')
    await advance(20, 5)
    const answer = seen.a as Admission | undefined
    assert.ok(answer && !answer.admitted && answer.reason === 'deadline', JSON.stringify(seen))
    assert.ok(seen.at! >= 300 && seen.at! <= 305, `refused at ${seen.at} ms`)
    held.release()
  })

  it('units allowance: a sale may have as many calls in flight as it has units left, beyond the limit, up to twice the limit and groupAllowanceMax', async () => {
    const crowd = (left: number, groupAllowanceMax?: number) => {
      const units = { left }
      const limiter = createAdaptiveLimit({
        algorithm: createFixedLimit(3),
        window: false,
        coreQueue: 'deadline',
        maxQueue: 1_000,
        now: Date.now,
        groupBound: (group) => (group === 'sale' ? units.left : undefined),
        ...(groupAllowanceMax === undefined ? {} : { groupAllowanceMax }),
      })
      const admitted: Permit[] = []
      for (let i = 0; i < 30; i++) {
        void limiter.acquire('core', { deadline: Date.now() + 10_000, group: 'sale' }).then((a) => a.admitted && admitted.push(a.permit))
      }
      let other: Admission | undefined
      void limiter.acquire('core', { deadline: Date.now() + 10_000, group: 'unknown-stock' }).then((a) => (other = a))
      return { limiter, admitted, units, other: () => other }
    }
    const plain = crowd(5)
    await flush()
    assert.equal(plain.admitted.length, 3, 'without the allowance the limit (3) holds')

    const allowed = crowd(5, 100)
    await flush()
    assert.equal(allowed.admitted.length, 5, 'one call per unit left, at once, beyond the limit')
    assert.equal(allowed.limiter.inflight, 5)
    assert.equal(allowed.other(), undefined, 'a group whose units are unknown gets no allowance: it waits for the limit')
    // Two of the calls took their units (the level fell to 3) and one of them completed.
    allowed.units.left = 3
    allowed.admitted.shift()!.release(10)
    await flush()
    assert.equal(allowed.admitted.length, 4, 'no new call: the 4 in flight cover the 3 units left')
    assert.equal(allowed.other(), undefined, 'and the limit (3) is still full for everyone else')

    const many = crowd(20, 100)
    await flush()
    assert.equal(many.admitted.length, 6, 'never more than twice the limit, however many units are left')
    const capped = crowd(20, 4)
    await flush()
    assert.equal(capped.admitted.length, 4, 'nor more than groupAllowanceMax in flight in all')
  })

  it('when a group sells out (groupsChanged), its queued waiters get their turn at once, slot or not; other groups keep waiting', async () => {
    const units = { left: 5 }
    const { limiter } = await deadlineLimiter(1, 100, units)
    const start = Date.now()
    const held = permitOf(await limiter.acquire('core', { deadline: start + 10_000 }))
    const answers: Admission[] = []
    for (let i = 0; i < 20; i++) void limiter.acquire('core', { deadline: start + 10_000, group: 'sale' }).then((a) => answers.push(a))
    let other: Admission | undefined
    void limiter.acquire('core', { deadline: start + 10_000, group: 'another-sale' }).then((a) => (other = a))
    await advance(50, 5)
    assert.equal(answers.length, 0, 'all wait behind the one slot')

    limiter.groupsChanged()
    await flush()
    assert.equal(answers.length, 0, 'units left: nothing changes')
    units.left = 0
    limiter.groupsChanged()
    await flush()
    assert.equal(answers.length, 20, 'every waiter of the sold-out sale has its turn, though the slot is still held')
    assert.ok(answers.every((a) => a.admitted))
    for (const a of answers) permitOf(a).unused()
    assert.equal(other, undefined, 'another sale still waits for the slot')
    assert.equal(limiter.inflight, 1)
    held.release()
    await flush()
    assert.equal((other as Admission | undefined)?.admitted, true)
  })

  it('maxQueue counts the waiters that may need the upstream; a group beyond its bound is bounded only by maxQueueHeads', async () => {
    const crowd = async (maxQueueHeads: number) => {
      const limiter = createAdaptiveLimit({
        algorithm: createFixedLimit(1),
        window: false,
        coreQueue: 'deadline',
        maxQueue: 10,
        maxQueueHeads,
        now: Date.now,
        groupBound: () => 3,
      })
      const held = permitOf(await limiter.acquire('core', { deadline: 10_000 }))
      const group: Admission[] = []
      const plain: Admission[] = []
      for (let i = 0; i < 120; i++) void limiter.acquire('core', { deadline: 10_000, group: 'sale' }).then((a) => group.push(a))
      for (let i = 0; i < 10; i++) void limiter.acquire('core', { deadline: 10_000 }).then((a) => plain.push(a))
      await flush()
      const queued = limiter.snapshot().queuedCore
      limiter.close()
      held.release()
      return {
        queued,
        groupFull: group.filter((a) => !a.admitted && a.reason === 'queue_full').length,
        plainFull: plain.filter((a) => !a.admitted && a.reason === 'queue_full').length,
      }
    }
    // Room for 1,000 heads: all 120 of the group wait (3 of them are work), then 7 of no group fill the 10 of work.
    assert.deepEqual(await crowd(1_000), { queued: 127, groupFull: 0, plainFull: 3 })
    // Room for 100 heads: the group fills them, and nobody else gets in.
    assert.deepEqual(await crowd(100), { queued: 100, groupFull: 20, plainFull: 10 })
  })

  it('a group bound says nothing about waiters of other groups or of none: they count whole', async () => {
    const { limiter, decisions } = await deadlineLimiter(2, 100)
    const bounded = createAdaptiveLimit({
      algorithm: createFixedLimit(2),
      window: false,
      coreQueue: 'deadline',
      maxQueue: 10_000,
      now: Date.now,
      groupBound: () => 0,
    })
    for (let i = 0; i < 24; i++) permitOf(await bounded.acquire('core', { deadline: 1_000 })).release(100)
    // 100 waiters of no group: the same refusals with or without a groupBound.
    const plain = Array.from({ length: 100 }, () => limiter.acquire('core', { deadline: 1_000 }))
    const withBound = Array.from({ length: 100 }, () => bounded.acquire('core', { deadline: 1_000 }))
    const refusedOf = async (ps: Promise<Admission>[]) => {
      const settled: Admission[] = []
      for (const p of ps) void p.then((a) => settled.push(a))
      await flush()
      return settled.filter((a) => !a.admitted).length
    }
    const a = await refusedOf(plain)
    assert.ok(a >= 75, `${a} refused by head count`)
    assert.equal(await refusedOf(withBound), a)
    assert.ok(decisions.length > 0)
    limiter.close()
    bounded.close()
  })

  it('capacity floor: twice the measured bandwidth-delay product holds the limit up, starts from `initial`, and ages out', async () => {
    // An upstream with 4 workers: 10 ms per call up to 4 at once, longer beyond (they queue inside it).
    // Its bandwidth-delay product is 4 calls (0.4 per ms x 10 ms), so the floor is 8.
    const limiter = createAdaptiveLimit({
      algorithm: createFixedLimit(2),
      window: false,
      coreQueue: 'deadline',
      maxQueue: 10_000,
      now: Date.now,
      capacityFloor: { windowMs: 5_000, initial: 6, max: 100 },
    })
    assert.equal(limiter.limit, 6, 'before anything is measured: the initial floor')
    const serve = (a: Admission) => {
      if (a.admitted) setTimeout(() => a.permit.release(), 10 * Math.max(1, limiter.inflight / 4))
    }
    for (let i = 0; i < 400; i++) void limiter.acquire('core', { deadline: 60_000 }).then(serve)
    await advance(1_500, 5)
    const { floor } = limiter.snapshot()
    assert.ok(floor >= 8 && floor <= 9, `floor ${floor}: 2 x 4 calls, give or take the clock's 5 ms steps`)
    assert.equal(limiter.limit, floor, "the floor is above the algorithm's 2")
    await advance(10_100, 100) // two windows without a queue: the measurements age out, back to the initial floor
    assert.equal(limiter.limit, 6)
    const capped = createAdaptiveLimit({ algorithm: createFixedLimit(2), window: false, capacityFloor: { initial: 500, max: 50 } })
    assert.equal(capped.limit, 50, 'never above max')
  })

  it('reserves SRTT + 4 RTTVAR for a call (RFC 6298), not the mean: answers that spread need more room', async () => {
    const taught = async (samples: number[]) => {
      const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(1), window: false, coreQueue: 'deadline', now: Date.now })
      for (const ms of samples) permitOf(await limiter.acquire('core', { deadline: 10_000 })).release(ms)
      const held = permitOf(await limiter.acquire('core', { deadline: 10_000 }))
      // One call ahead (the held slot) and this one: about 2 x 100 ms on average, due in 300 ms.
      const settled: Admission[] = []
      void limiter.acquire('core', { deadline: Date.now() + 300 }).then((a) => settled.push(a))
      await flush()
      const reserveMs = Math.round(limiter.snapshot().reserveMs)
      limiter.close()
      held.ignore()
      return { reserveMs, refusedAtOnce: settled.length === 1 && !settled[0]!.admitted }
    }
    const steady = await taught(Array.from({ length: 24 }, () => 100))
    assert.deepEqual(steady, { reserveMs: 100, refusedAtOnce: false })
    const spread = await taught(Array.from({ length: 24 }, (_, i) => (i % 2 ? 20 : 180)))
    assert.ok(spread.reserveMs > 300, `reserve ${spread.reserveMs} ms`)
    assert.equal(spread.refusedAtOnce, true)
  })

  it('non-core requests keep CoDel: a standing queue still times them out at the 5 ms target', async () => {
    const limiter = createAdaptiveLimit({ algorithm: createFixedLimit(2), window: false, coreQueue: 'deadline', now: Date.now })
    permitOf(await limiter.acquire('non-core')) // non-core may hold 80% of 2: one slot
    const waiter = limiter.acquire('non-core')
    await advance(100)
    assert.deepEqual(await waiter, { admitted: false, reason: 'queue_timeout', waitedMs: 100 })
  })
})
