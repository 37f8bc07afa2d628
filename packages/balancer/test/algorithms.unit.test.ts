import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createBalancer,
  createSeededRandom,
  ipHash,
  leastConnections,
  p2cPeakEwma,
  random,
  roundRobin,
  smoothWeightedRoundRobin,
  weightedRandom,
  type AlgorithmName,
  type Balancer,
  type Instance,
} from '../src/index.ts'

const instance = (id: string, weight?: number): Instance => ({ id, url: `http://${id}.internal:8080`, ...(weight === undefined ? {} : { weight }) })
const abc = [instance('a'), instance('b'), instance('c')]

/** Picks `n` times (reporting each at once) and counts picks per instance id. */
function tally(b: Balancer, n: number, context: (i: number) => { clientIp?: string; key?: string } = () => ({})): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const chosen = b.pick(context(i))
    assert.ok(chosen, 'an instance should be available')
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1)
    b.report(chosen, { latencyMs: 1, ok: true })
  }
  return counts
}

/** Pearson's chi-square statistic of observed counts against expected shares. */
function chiSquare(counts: Map<string, number>, expectedShare: Record<string, number>, n: number): number {
  let chi = 0
  for (const [id, share] of Object.entries(expectedShare)) {
    const expected = share * n
    chi += ((counts.get(id) ?? 0) - expected) ** 2 / expected
  }
  return chi
}
// Critical values at p = 0.001: 2 degrees of freedom 13.82, 3 degrees 16.27.
const CHI2_CRIT_2DOF = 13.82

const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

describe('round-robin', () => {
  it('takes each instance in turn', () => {
    const b = roundRobin(abc)
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => b.pick()!.id),
      ['a', 'b', 'c', 'a', 'b', 'c'],
    )
  })

  it('skips an ejected instance and takes it back into the rotation when restored', () => {
    const b = roundRobin(abc)
    b.pick()
    b.setAvailable('b', false)
    assert.deepEqual(
      [1, 2, 3, 4].map(() => b.pick()!.id),
      ['c', 'a', 'c', 'a'],
    )
    b.setAvailable('b', true)
    assert.deepEqual(
      [1, 2, 3].map(() => b.pick()!.id),
      ['b', 'c', 'a'],
    )
  })
})

describe('random and weighted random (seeded, chi-square at p = 0.001)', () => {
  it('random spreads picks uniformly', () => {
    const n = 30_000
    const counts = tally(random(abc, { random: createSeededRandom(1) }), n)
    const chi = chiSquare(counts, { a: 1 / 3, b: 1 / 3, c: 1 / 3 }, n)
    assert.ok(chi < CHI2_CRIT_2DOF, `chi-square ${chi.toFixed(2)} for ${JSON.stringify([...counts])}`)
  })

  it('weighted random picks in proportion to weight (5:3:2), and never a weight-0 instance', () => {
    const n = 30_000
    const b = weightedRandom([instance('a', 5), instance('b', 3), instance('c', 2), instance('z', 0)], { random: createSeededRandom(2) })
    const counts = tally(b, n)
    assert.equal(counts.get('z'), undefined)
    const chi = chiSquare(counts, { a: 0.5, b: 0.3, c: 0.2 }, n)
    assert.ok(chi < CHI2_CRIT_2DOF, `chi-square ${chi.toFixed(2)} for ${JSON.stringify([...counts])}`)
  })

  it('the distribution check would catch a skew (a biased source fails it)', () => {
    const n = 30_000
    let k = 0
    const biased = () => (k++ % 10 < 4 ? 0.1 : 0.5) // a gets 40%
    const chi = chiSquare(tally(random(abc, { random: biased }), n), { a: 1 / 3, b: 1 / 3, c: 1 / 3 }, n)
    assert.ok(chi > CHI2_CRIT_2DOF)
  })
})

describe('source-IP hash (consistent hashing, 160 virtual nodes per weight)', () => {
  const ten = Array.from({ length: 10 }, (_, i) => instance(`i${i}`))
  const keys = Array.from({ length: 20_000 }, (_, i) => ipOf(i))

  function owners(b: Balancer): Map<string, string> {
    const m = new Map<string, string>()
    for (const ip of keys) {
      const chosen = b.pick({ clientIp: ip })!
      b.report(chosen, { latencyMs: 1, ok: true })
      m.set(ip, chosen.id)
    }
    return m
  }

  it('sends the same client IP to the same instance every time, on every gateway (same ring from the same list)', () => {
    const first = owners(ipHash(ten))
    const again = owners(ipHash([...ten].reverse()))
    assert.deepEqual(again, first)
  })

  it('gives every instance a fair share of clients (within ±25%)', () => {
    const counts = new Map<string, number>()
    for (const id of owners(ipHash(ten)).values()) counts.set(id, (counts.get(id) ?? 0) + 1)
    for (const [id, n] of counts) assert.ok(Math.abs(n - 2_000) < 500, `${id} owns ${n} of 20000`)
  })

  it('when an instance is removed only its own clients move (~1/N), every other client stays put', () => {
    const before = owners(ipHash(ten))
    const b = ipHash(ten)
    b.setInstances(ten.filter((i) => i.id !== 'i3'))
    const after = owners(b)
    let moved = 0
    for (const [ip, id] of before) {
      if (id === 'i3') {
        moved++
        assert.notEqual(after.get(ip), 'i3')
      } else assert.equal(after.get(ip), id, `${ip} moved from ${id} although ${id} is still there`)
    }
    assert.ok(moved > keys.length * 0.075 && moved < keys.length * 0.125, `${moved} of ${keys.length} moved`)
  })

  it('an ejected instance’s clients move and come back when it is restored', () => {
    const b = ipHash(ten)
    const before = owners(b)
    b.setAvailable('i7', false)
    const during = owners(b)
    for (const [ip, id] of before) if (id !== 'i7') assert.equal(during.get(ip), id)
    assert.ok(![...during.values()].includes('i7'))
    b.setAvailable('i7', true)
    assert.deepEqual(owners(b), before)
  })

  it('a key (user id) wins over the client IP; with neither, the pick is random', () => {
    const b = ipHash(ten, { random: createSeededRandom(3) })
    const byKey = b.pick({ key: 'user-42', clientIp: '1.1.1.1' })!
    assert.equal(b.pick({ key: 'user-42', clientIp: '2.2.2.2' })!.id, byKey.id)
    const counts = tally(b, 1_000)
    assert.equal(counts.size, 10)
  })

  it('a weight-2 instance owns about twice the clients', () => {
    const b = ipHash([instance('heavy', 2), instance('x'), instance('y')])
    const counts = tally(b, keys.length, (i) => ({ clientIp: keys[i]! }))
    const ratio = counts.get('heavy')! / ((counts.get('x')! + counts.get('y')!) / 2)
    assert.ok(ratio > 1.6 && ratio < 2.4, `heavy/light = ${ratio.toFixed(2)}`)
  })
})

describe('smooth weighted round-robin (nginx)', () => {
  it('weights 5,1,1 give exactly a a b a c a a, and repeat', () => {
    const b = smoothWeightedRoundRobin([instance('a', 5), instance('b', 1), instance('c', 1)])
    const seq = Array.from({ length: 14 }, () => b.pick()!.id).join(' ')
    assert.equal(seq, 'a a b a c a a a a b a c a a')
  })

  it('skips an ejected instance and shares among the rest by weight', () => {
    const b = smoothWeightedRoundRobin([instance('a', 5), instance('b', 2), instance('c', 1)])
    b.setAvailable('a', false)
    assert.equal(Array.from({ length: 6 }, () => b.pick()!.id).join(' '), 'b c b b c b')
  })
})

describe('least connections', () => {
  it('picks the idle instance', () => {
    const b = leastConnections(abc, { random: createSeededRandom(4) })
    const held = [b.pick()!, b.pick()!]
    const third = b.pick()!
    assert.equal(new Set([...held, third].map((i) => i.id)).size, 3, 'each pick went to an instance with nothing in flight')
    b.report(held[0]!, { latencyMs: 5, ok: true })
    assert.equal(b.pick()!.id, held[0]!.id)
  })

  it('weighs in-flight counts by weight (2 in flight on weight 2 ties 1 on weight 1)', () => {
    const b = leastConnections([instance('big', 2), instance('small', 1)], { random: createSeededRandom(5) })
    const picks = Array.from({ length: 6 }, () => b.pick()!.id)
    assert.deepEqual(
      picks.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>()),
      new Map([
        ['big', 4],
        ['small', 2],
      ]),
    )
  })
})

describe('power of two choices with peak EWMA', () => {
  it('sends almost nothing to an instance that is 10x slower (round-robin would send a third)', () => {
    let t = 0
    const b = p2cPeakEwma(abc, { random: createSeededRandom(6), now: () => t })
    const latency: Record<string, number> = { a: 10, b: 10, c: 100 }
    const counts = new Map<string, number>()
    for (let i = 0; i < 3_000; i++) {
      const chosen = b.pick()!
      counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1)
      t += 1
      b.report(chosen, { latencyMs: latency[chosen.id]!, ok: true })
    }
    assert.ok((counts.get('c') ?? 0) < 3_000 * 0.05, `slow instance got ${counts.get('c')} of 3000`)
  })

  it('with equal latency, prefers the instance with fewer requests in flight (cost = ewma × (inflight + 1))', () => {
    const b = p2cPeakEwma([instance('a'), instance('b')], { random: createSeededRandom(7), now: () => 0 })
    for (const _ of b.instances) b.report(b.pick()!, { latencyMs: 10, ok: true }) // one sample each: both 10 ms
    for (let i = 0; i < 10; i++) {
      b.pick() // held: never reported
      assert.ok(Math.abs(b.inflight('a') - b.inflight('b')) <= 1, `in flight a=${b.inflight('a')} b=${b.inflight('b')}`)
    }
  })

  it('reacts to a latency spike at once (peak) and forgets it over the decay time', () => {
    let t = 0
    const b = p2cPeakEwma([instance('a'), instance('b')], { random: createSeededRandom(8), now: () => t, decayMs: 10_000 })
    const a = b.instances[0]!
    const other = b.instances[1]!
    b.pick()
    b.report(other, { latencyMs: 20, ok: true })
    b.pick()
    b.report(a, { latencyMs: 20, ok: true })
    b.pick()
    b.report(a, { latencyMs: 500, ok: true }) // spike
    for (let i = 0; i < 20; i++) {
      const chosen = b.pick()!
      assert.equal(chosen.id, 'b', 'right after the spike a costs 500')
      b.report(chosen, { latencyMs: 20, ok: true })
    }
    // b keeps answering in 20 ms while a sits idle; a's estimate decays (500·e^(-t/10 s)) until it is
    // cheaper than b's, after about 10 s · ln(500/20) ≈ 32 s, and a is tried again.
    let retriedAt: number | undefined
    for (; t < 60_000 && retriedAt === undefined; t += 100) {
      const chosen = b.pick()!
      if (chosen.id === 'a') retriedAt = t
      b.report(chosen, { latencyMs: 20, ok: true })
    }
    assert.ok(retriedAt !== undefined && retriedAt > 25_000 && retriedAt < 40_000, `a was retried at ${retriedAt} ms`)
  })
})

describe('every algorithm', () => {
  const names: AlgorithmName[] = ['round-robin', 'random', 'ip-hash', 'smooth-weighted-round-robin', 'weighted-random', 'least-connections', 'p2c-peak-ewma']

  for (const name of names) {
    it(`${name}: never picks an ejected instance, and answers undefined when all are ejected`, () => {
      const b = createBalancer(name, [instance('a', 3), instance('b', 1), instance('c', 2)], { random: createSeededRandom(9), now: () => 0 })
      b.setAvailable('c', false)
      const counts = tally(b, 2_000, (i) => ({ clientIp: ipOf(i) }))
      assert.equal(counts.get('c'), undefined)
      assert.ok(counts.get('a')! > 0 && counts.get('b')! > 0)
      b.setAvailable('a', false)
      b.setAvailable('b', false)
      assert.equal(b.pick({ clientIp: '10.0.0.1' }), undefined)
    })
  }

  for (const name of names) {
    it(`${name}: panic routing picks only among the ejected instances the caller allows, with the same algorithm, counted in flight`, () => {
      const b = createBalancer(name, [instance('a', 3), instance('b', 1), instance('c', 2)], { random: createSeededRandom(5), now: () => 0 })
      for (const id of ['a', 'b', 'c']) b.setAvailable(id, false)
      assert.equal(b.pick({ clientIp: '10.0.0.1' }), undefined)
      const seen = new Set<string>()
      for (let i = 0; i < 500; i++) {
        const chosen = b.pickInPanic({ clientIp: ipOf(i) }, (x) => x.id !== 'c')
        assert.ok(chosen && chosen.id !== 'c', `picked ${chosen?.id}`)
        assert.equal(b.inflight(chosen.id), 1)
        b.report(chosen, { latencyMs: 1, ok: true })
        seen.add(chosen.id)
      }
      assert.deepEqual([...seen].sort(), ['a', 'b'])
      assert.equal(
        b.pickInPanic({}, () => false),
        undefined,
        'nothing eligible: nothing picked',
      )
      assert.equal(b.isAvailable('a'), false, 'panic routing does not restore anything')
    })
  }

  it('counts in-flight requests from pick to report', () => {
    const b = createBalancer('round-robin', abc)
    const x = b.pick()!
    b.pick()
    assert.equal(b.inflight(x.id), 1)
    b.report(x, { latencyMs: 1, ok: true })
    assert.equal(b.inflight(x.id), 0)
  })

  it('rejects duplicate ids and negative weights', () => {
    assert.throws(() => roundRobin([instance('a'), instance('a')]), /duplicate/)
    assert.throws(() => roundRobin([instance('a', -1)]), RangeError)
  })
})
