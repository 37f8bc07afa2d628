import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHotSaleLimiter } from '../../src/domain/hot-sale-limiter.ts'

const clock = () => {
  let t = 1_000_000
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

describe('hot-sale limiter (token bucket per sale)', () => {
  it('lets a burst through, then refuses with the wait until the next token', () => {
    const c = clock()
    const limiter = createHotSaleLimiter({ ratePerSecond: 10, burst: 3, now: c.now })
    const decisions = Array.from({ length: 5 }, () => limiter.take('hot'))
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, true, true, false, false],
    )
    assert.equal(decisions[3]?.retryAfterMs, 100)
  })

  it('refills at the rate, never above the burst', () => {
    const c = clock()
    const limiter = createHotSaleLimiter({ ratePerSecond: 10, burst: 2, now: c.now })
    limiter.take('s')
    limiter.take('s')
    assert.equal(limiter.take('s').allowed, false)
    c.advance(100)
    assert.equal(limiter.take('s').allowed, true)
    assert.equal(limiter.take('s').allowed, false)
    c.advance(60_000)
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take('s').allowed),
      [true, true, false],
    )
  })

  it('limits each sale on its own: a hot sale does not throttle a quiet one', () => {
    const c = clock()
    const limiter = createHotSaleLimiter({ ratePerSecond: 1, burst: 1, now: c.now })
    assert.equal(limiter.take('hot').allowed, true)
    assert.equal(limiter.take('hot').allowed, false)
    assert.equal(limiter.take('quiet').allowed, true)
  })

  it('forgets the least recently used sale beyond maxSales (it comes back with a full bucket)', () => {
    const c = clock()
    const limiter = createHotSaleLimiter({ ratePerSecond: 1, burst: 1, now: c.now, maxSales: 2 })
    limiter.take('a')
    limiter.take('b')
    limiter.take('c') // evicts a
    assert.equal(limiter.take('a').allowed, true)
    assert.equal(limiter.take('c').allowed, false)
  })
})
