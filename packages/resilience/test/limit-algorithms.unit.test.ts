import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createAimdLimit, createGradient2Limit, createSampleWindow, createVegasLimit, type LimitAlgorithm } from '../src/index.ts'

/** Feeds `n` samples of `rttMs` with the limit fully in use; returns the limits seen. */
function feed(algorithm: LimitAlgorithm, n: number, rttMs: number, dropped = false): number[] {
  const seen: number[] = []
  for (let i = 0; i < n; i++) seen.push(algorithm.update({ rttMs, inflight: algorithm.limit, dropped }))
  return seen
}

const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]!)
const nonIncreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x <= xs[i - 1]!)

describe('Gradient2 limit (Netflix defaults)', () => {
  it('starts at 20 and never leaves [minLimit 20, maxLimit 200]', () => {
    const g = createGradient2Limit()
    assert.equal(g.limit, 20)
    feed(g, 2_000, 10)
    assert.equal(g.limit, 200)
    feed(g, 60, 1_000)
    assert.equal(g.limit, 20)
  })

  it('grows while the RTT stays flat and the limit is in use: +0.8 per sample (smoothing 0.2 * queueSize 4)', () => {
    const g = createGradient2Limit()
    const seen = feed(g, 50, 10)
    assert.ok(nonDecreasing(seen))
    assert.equal(g.limit, 60) // 20 + 50 * 0.8
  })

  it('does not grow when the client is app-limited (fewer than limit/2 in flight)', () => {
    const g = createGradient2Limit({ initialLimit: 50, minLimit: 5 })
    for (let i = 0; i < 100; i++) g.update({ rttMs: 10, inflight: 24, dropped: false })
    assert.equal(g.limit, 50)
  })

  it('takes a lasting RTT change as the new normal: the long-term average (600 samples) catches up', () => {
    const g = createGradient2Limit({ initialLimit: 100, minLimit: 5 })
    feed(g, 20, 10)
    feed(g, 2_000, 40)
    assert.ok(g.limit > 100, `limit ${g.limit} should grow again once 40 ms is the baseline`)
  })

  it('tolerates RTT up to 1.5x the long-term average, then shrinks as the RTT inflates', () => {
    const g = createGradient2Limit({ initialLimit: 100, minLimit: 5 })
    feed(g, 20, 10) // long-term RTT ≈ 10 ms
    const before = g.limit
    feed(g, 5, 14) // 1.4x: inside the tolerance, still growing
    assert.ok(g.limit > before)
    const peak = g.limit
    const shrinking = feed(g, 30, 40) // 4x: gradient clamps at 0.5
    assert.ok(nonIncreasing(shrinking))
    assert.ok(g.limit < peak * 0.4, `limit ${g.limit} should fall well below ${peak}`)
  })

  it('comes back up once the RTT falls again (the long-term RTT decays by 0.95 when it is > 2x the sample)', () => {
    const g = createGradient2Limit({ initialLimit: 100, minLimit: 5 })
    feed(g, 20, 10)
    feed(g, 100, 80) // an overload: the long-term RTT moves up towards 80 ms (about a third of the way)
    const low = g.limit
    assert.ok(low < 30, `limit ${low} should have fallen during the overload`)
    feed(g, 200, 10)
    assert.ok(g.limit > low + 100, `limit ${g.limit} should recover from ${low}`)
  })
})

describe('Vegas limit', () => {
  const random = () => 0.5

  it('grows fast (by beta = 6*log10(limit)) while there is no queueing', () => {
    const v = createVegasLimit({ random })
    v.update({ rttMs: 10, inflight: 20, dropped: false }) // learns rttNoLoad = 10
    v.update({ rttMs: 10, inflight: 20, dropped: false })
    assert.equal(v.limit, 26) // 20 + 6 * log10(20)=1
  })

  it('shrinks by log10(limit) when the queue estimate exceeds beta, and on a drop', () => {
    const v = createVegasLimit({ initialLimit: 100, random })
    v.update({ rttMs: 10, inflight: 100, dropped: false })
    v.update({ rttMs: 20, inflight: 100, dropped: false }) // queue = 100 * (1 - 10/20) = 50 > beta 12
    assert.equal(v.limit, 98)
    v.update({ rttMs: 11, inflight: 100, dropped: true })
    assert.equal(v.limit, 97) // floor(98 - log10 98 = 1) = 97
  })

  it('keeps the limit when the client is app-limited', () => {
    const v = createVegasLimit({ random })
    v.update({ rttMs: 10, inflight: 5, dropped: false })
    v.update({ rttMs: 10, inflight: 5, dropped: false })
    assert.equal(v.limit, 20)
  })
})

describe('AIMD limit', () => {
  it('adds 1 while at least half is in use and multiplies by 0.9 on a drop', () => {
    const a = createAimdLimit({ initialLimit: 100, minLimit: 1 })
    a.update({ rttMs: 10, inflight: 50, dropped: false })
    assert.equal(a.limit, 101)
    a.update({ rttMs: 10, inflight: 10, dropped: false })
    assert.equal(a.limit, 101)
    a.update({ rttMs: 10, inflight: 101, dropped: true })
    assert.equal(a.limit, 90)
    a.update({ rttMs: 6_000, inflight: 90, dropped: false }) // slower than the 5 s timeout counts as a drop
    assert.equal(a.limit, 81)
  })
})

describe('sample window (Netflix WindowedLimit)', () => {
  function recording() {
    const updates: { rttMs: number; inflight: number; dropped: boolean }[] = []
    return { updates, algorithm: { limit: 10, update: (s: { rttMs: number; inflight: number; dropped: boolean }) => (updates.push(s), 10) } }
  }

  it('feeds the algorithm one averaged sample per 1 s window: mean RTT, max in flight, any drop', () => {
    const { updates, algorithm } = recording()
    const w = createSampleWindow(algorithm)
    w.add(0, { rttMs: 5, inflight: 1, dropped: false }) // closes the (empty) first window
    for (let i = 1; i <= 10; i++) w.add(i * 90, { rttMs: i % 2 ? 10 : 20, inflight: i, dropped: i === 3 })
    assert.equal(updates.length, 0, 'the window is still open at 900 ms')
    w.add(1_001, { rttMs: 15, inflight: 2, dropped: false })
    assert.deepEqual(updates, [{ rttMs: 15, inflight: 10, dropped: true }])
  })

  it('discards a window with fewer than 10 samples, and samples under 100 µs', () => {
    const { updates, algorithm } = recording()
    const w = createSampleWindow(algorithm)
    w.add(0, { rttMs: 5, inflight: 1, dropped: false })
    for (let i = 1; i <= 20; i++) w.add(i * 40, { rttMs: 0.05, inflight: 1, dropped: false })
    for (let i = 1; i <= 8; i++) w.add(900 + i, { rttMs: 5, inflight: 1, dropped: false })
    w.add(1_001, { rttMs: 5, inflight: 1, dropped: false })
    assert.equal(updates.length, 0)
  })
})
