import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createOutlierDetector, createSeededRandom, p2cPeakEwma, type Instance } from '../src/index.ts'

function clock() {
  let t = 0
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

describe('outlier detector (Envoy consecutive failures, growing ejection, failback)', () => {
  it('ejects after 5 consecutive failures; a success in between starts the count again', () => {
    const c = clock()
    const d = createOutlierDetector({ now: c.now, hosts: ['a', 'b', 'c'] })
    for (let i = 0; i < 4; i++) assert.equal(d.report('a', false), false)
    d.report('a', true)
    for (let i = 0; i < 4; i++) assert.equal(d.report('a', false), false)
    assert.equal(d.isEjected('a'), false)
    assert.equal(d.report('a', false), true)
    assert.equal(d.isEjected('a'), true)
  })

  it('ejects for base × times ejected (30 s, 60 s, 90 s …) up to maxEjectionMs, failing back at the end of each', () => {
    const c = clock()
    const events: string[] = []
    const d = createOutlierDetector({
      now: c.now,
      hosts: ['a', 'b'],
      maxEjectionMs: 100_000,
      intervalMs: 1_000_000, // no decay in this test
      onEject: (id, { durationMs }) => events.push(`eject ${id} ${durationMs}`),
      onRestore: (id) => events.push(`restore ${id}`),
    })
    const ejectOnce = () => {
      for (let i = 0; i < 5; i++) d.report('a', false)
    }
    for (const expected of [30_000, 60_000, 90_000, 100_000]) {
      ejectOnce()
      c.advance(expected - 1)
      assert.equal(d.isEjected('a'), true, `still ejected 1 ms before ${expected} ms`)
      c.advance(1)
      assert.deepEqual(d.sweep(), ['a'])
    }
    assert.deepEqual(events, ['eject a 30000', 'restore a', 'eject a 60000', 'restore a', 'eject a 90000', 'restore a', 'eject a 100000', 'restore a'])
  })

  it('takes one off the multiplier for every interval an instance goes without ejection', () => {
    const c = clock()
    const d = createOutlierDetector({ now: c.now, hosts: ['a', 'b'], intervalMs: 10_000 })
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) d.report('a', false)
      c.advance(60_000)
      d.sweep()
    }
    assert.equal(d.multiplier('a'), 2)
    c.advance(10_000)
    assert.equal(d.multiplier('a'), 1)
    c.advance(25_000)
    assert.equal(d.multiplier('a'), 0)
  })

  it('never ejects more than maxEjectionPercent of the instances (but always allows one)', () => {
    const d = createOutlierDetector({ now: () => 0, hosts: ['a', 'b', 'c', 'd'], maxEjectionPercent: 50 })
    for (const id of ['a', 'b', 'c']) for (let i = 0; i < 5; i++) d.report(id, false)
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => d.isEjected(id)),
      [true, true, false],
    )
    const two = createOutlierDetector({ now: () => 0, hosts: ['a', 'b'], maxEjectionPercent: 10 })
    for (const id of ['a', 'b']) for (let i = 0; i < 5; i++) two.report(id, false)
    assert.deepEqual([two.isEjected('a'), two.isEjected('b')], [true, false])
  })

  it('an active health check can end an ejection early', () => {
    const restored: string[] = []
    const d = createOutlierDetector({ now: () => 0, hosts: ['a', 'b'], onRestore: (id) => restored.push(id) })
    for (let i = 0; i < 5; i++) d.report('a', false)
    d.restore('a')
    assert.equal(d.isEjected('a'), false)
    assert.deepEqual(restored, ['a'])
  })

  it('wired to a balancer: the failing instance gets no traffic while ejected and gets it back after failback', () => {
    const c = clock()
    const instances: Instance[] = ['a', 'b', 'c'].map((id) => ({ id, url: `http://${id}` }))
    const balancer = p2cPeakEwma(instances, { random: createSeededRandom(11), now: c.now })
    const detector = createOutlierDetector({
      now: c.now,
      hosts: instances.map((i) => i.id),
      onEject: (id) => balancer.setAvailable(id, false),
      onRestore: (id) => balancer.setAvailable(id, true),
    })
    const send = (n: number) => {
      const seen = new Map<string, number>()
      for (let i = 0; i < n; i++) {
        detector.sweep()
        const chosen = balancer.pick()!
        seen.set(chosen.id, (seen.get(chosen.id) ?? 0) + 1)
        const ok = chosen.id !== 'b' || c.now() >= 40_000 // b answers 500s until 40 s
        balancer.report(chosen, { latencyMs: 5, ok })
        detector.report(chosen.id, ok)
        c.advance(10)
      }
      return seen
    }
    send(300)
    assert.equal(detector.isEjected('b'), true)
    const during = send(1_000) // up to ~13 s: b is ejected for 30 s
    assert.equal(during.get('b'), undefined)
    c.advance(30_000) // now ~43 s: b's 30 s ejection is over and b has been healthy since 40 s
    const after = send(1_000)
    assert.equal(detector.isEjected('b'), false)
    assert.ok((after.get('b') ?? 0) > 100, `b got ${after.get('b')} of 1000 after failback`)
  })
})
