import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSoldOutCache } from '../../src/domain/sold-out-cache.ts'

describe('sold-out short-circuit memory', () => {
  it('remembers a sold-out sale for ttlMs, then forgets it', () => {
    let t = 0
    const cache = createSoldOutCache({ ttlMs: 1_000, now: () => t })
    assert.equal(cache.isSoldOut('s'), false)
    cache.markSoldOut('s')
    assert.equal(cache.isSoldOut('s'), true)
    t = 999
    assert.equal(cache.isSoldOut('s'), true)
    t = 1_000
    assert.equal(cache.isSoldOut('s'), false)
  })

  it('forget (a release, a reconciler pass finding units) ends it at once', () => {
    const cache = createSoldOutCache({ ttlMs: 60_000, now: () => 0 })
    cache.markSoldOut('s')
    cache.forget('s')
    assert.equal(cache.isSoldOut('s'), false)
  })

  it('ttlMs 0 switches it off', () => {
    const cache = createSoldOutCache({ ttlMs: 0, now: () => 0 })
    cache.markSoldOut('s')
    assert.equal(cache.isSoldOut('s'), false)
  })
})
