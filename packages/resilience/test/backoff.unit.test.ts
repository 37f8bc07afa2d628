import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fullJitterDelay, jitteredRetryAfterSeconds, sleep } from '../src/index.ts'

describe('fullJitterDelay', () => {
  const opts = { baseMs: 100, capMs: 5_000 }

  it('grows the ceiling exponentially from the base: attempt n stays below base * 2^n', () => {
    assert.equal(
      fullJitterDelay(0, opts, () => 0.999999),
      99,
    )
    assert.equal(
      fullJitterDelay(1, opts, () => 0.999999),
      199,
    )
    assert.equal(
      fullJitterDelay(3, opts, () => 0.999999),
      799,
    )
  })

  it('never exceeds the cap, even for attempts where 2^n overflows', () => {
    assert.equal(
      fullJitterDelay(6, opts, () => 0.999999),
      4_999,
    )
    assert.equal(
      fullJitterDelay(2_000, opts, () => 0.999999),
      4_999,
    )
  })

  it('spreads delays over the whole range [0, ceiling) (full jitter, not equal jitter)', () => {
    assert.equal(
      fullJitterDelay(4, opts, () => 0),
      0,
    )
    const samples = Array.from({ length: 2_000 }, () => fullJitterDelay(4, opts))
    const ceiling = 1_600
    assert.ok(samples.every((d) => d >= 0 && d < ceiling))
    const lowHalf = samples.filter((d) => d < ceiling / 2).length
    // Uniform: about half land in the lower half. 2,000 samples: 5 sigma is about 112.
    assert.ok(Math.abs(lowHalf - 1_000) < 150, `lower half held ${lowHalf} of 2000`)
  })

  it('rejects a negative or fractional attempt instead of returning NaN', () => {
    assert.throws(() => fullJitterDelay(-1, opts), RangeError)
    assert.throws(() => fullJitterDelay(1.5, opts), RangeError)
  })
})

describe('sleep', () => {
  it('rejects with the abort reason when aborted early', async () => {
    const ac = new AbortController()
    const pending = sleep(60_000, ac.signal)
    ac.abort(new Error('shutting down'))
    await assert.rejects(pending, /shutting down/)
  })
})

describe('jitteredRetryAfterSeconds', () => {
  it('spreads whole seconds over [base, 2 x base], base = the expected wait rounded up, at least 1', () => {
    assert.equal(
      jitteredRetryAfterSeconds(undefined, () => 0),
      1,
    )
    assert.equal(
      jitteredRetryAfterSeconds(0, () => 0.999),
      2,
    )
    assert.equal(
      jitteredRetryAfterSeconds(1_200, () => 0),
      2,
    )
    assert.equal(
      jitteredRetryAfterSeconds(1_200, () => 0.999),
      4,
    )
    const seen = new Set(Array.from({ length: 2_000 }, () => jitteredRetryAfterSeconds(2_500)))
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6], 'every second of the range is used, nothing outside it')
  })
})
