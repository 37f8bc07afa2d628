import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jitterTtl, shouldRefreshEarly } from '../src/index.ts'

describe('TTL jitter', () => {
  it('spreads expiries uniformly over ±10% instead of one instant', () => {
    const ttls = Array.from({ length: 10_000 }, () => jitterTtl(10_000, 0.1))
    assert.ok(
      ttls.every((t) => t >= 9_000 && t <= 11_000),
      'within ±10%',
    )
    assert.ok(Math.min(...ttls) < 9_050 && Math.max(...ttls) > 10_950, 'reaching both ends')
    // Ten equal slices of the range each hold about a tenth (1,000 ± 3 standard deviations of ~30).
    const slices = new Array<number>(10).fill(0)
    for (const t of ttls) slices[Math.min(9, Math.floor((t - 9_000) / 200))]!++
    assert.ok(
      slices.every((n) => n > 850 && n < 1_150),
      `uniform slices: ${slices.join(' ')}`,
    )
  })

  it('is exact with ratio 0, and never below 1 ms', () => {
    assert.equal(jitterTtl(1_000, 0), 1_000)
    assert.equal(
      jitterTtl(1, 0.5, () => 0),
      1,
    )
  })
})

describe('XFetch early expiration (Vattani et al. 2015)', () => {
  const entry = { expiresAt: 10_000, deltaMs: 100 }

  it('always recomputes at or after expiry', () => {
    assert.equal(
      shouldRefreshEarly(entry, 10_000, 1, () => 0.999),
      true,
    )
    assert.equal(
      shouldRefreshEarly(entry, 12_000, 1, () => 0.5),
      true,
    )
  })

  it('recomputes when now - delta·beta·ln(rand) >= expiry', () => {
    // rand = 0.5: -ln(0.5) = 0.693, so with delta 100 it fires from 69.3 ms before expiry.
    const half = (): number => 0.5 // the implementation draws 1 - random()
    assert.equal(shouldRefreshEarly(entry, 10_000 - 69, 1, half), true)
    assert.equal(shouldRefreshEarly(entry, 10_000 - 70, 1, half), false)
    assert.equal(shouldRefreshEarly(entry, 10_000 - 138, 2, half), true, 'beta 2 fires twice as early')
    assert.equal(shouldRefreshEarly(entry, 10_000 - 1, 0, half), false, 'beta 0 never fires early')
  })

  it('fires with probability exp(-remaining / delta): ~37% one delta before expiry, ~never twenty deltas before', () => {
    const rate = (now: number): number => Array.from({ length: 20_000 }, () => shouldRefreshEarly(entry, now)).filter(Boolean).length / 20_000
    assert.ok(Math.abs(rate(10_000 - 100) - Math.exp(-1)) < 0.03, `one delta before: ${rate(9_900)}`)
    assert.ok(Math.abs(rate(10_000 - 300) - Math.exp(-3)) < 0.015)
    assert.equal(rate(10_000 - 2_000), 0)
  })
})
