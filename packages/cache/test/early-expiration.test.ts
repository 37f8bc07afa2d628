import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createCache, type Cache } from '../src/index.ts'
import { createProductsDb, metricValue, patientRedis, productLoader, type Product, type ProductLoader, type ProductsDb } from './helpers.ts'

/** Reads one key steadily for `ms`: four reads about every millisecond, like a hot product page. */
async function steadyReads(cache: Cache<Product>, loader: ProductLoader, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const values = await Promise.all([1, 2, 3, 4].map(() => cache.get('5', loader.load)))
    assert.ok(values.every((v) => v?.id === '5'))
    await sleep(1)
  }
}

describe('probabilistic early expiration (XFetch)', () => {
  let db: ProductsDb
  let redis: TestRedis

  before(async () => {
    db = await createProductsDb('cache_xfetch')
    redis = await createTestRedis('cache_xfetch')
  })
  after(async () => {
    await redis?.cleanup()
    await db?.cleanup()
  })

  it('under steady reads, a hot key is refreshed before it expires: no read ever misses after the first', async () => {
    const registry = new Registry()
    // No grace period: a read after expiry would be a plain miss (cache_misses_total{level="l2"}).
    const cache = createCache<Product>({ ...patientRedis, name: 'xfetch', redis: redis.redis, registry, ttlMs: 1_000 })
    const loader = productLoader(db.pool, 0.05) // delta ≈ 50 ms, stored beside the value
    try {
      const start = await loader.calls()
      await steadyReads(cache, loader, 3_500) // 3.5 TTLs

      assert.equal(await metricValue(registry, 'cache_misses_total', { cache: 'xfetch', level: 'l2' }), 1, 'only the very first read missed')
      // An early refresh is counted when it starts and its load when the statement ends: one may still be in
      // flight (a 50 ms statement) when the reads stop. No read runs now, so no other refresh can start; read
      // the two until they agree (or 2 s pass), the count first, each time.
      let early = 0
      let loads = 0
      for (const until = Date.now() + 2_000; ; await sleep(20)) {
        early = await metricValue(registry, 'cache_early_refreshes_total', { cache: 'xfetch' })
        loads = (await loader.calls()) - start
        if (loads >= 1 + early || Date.now() > until) break
      }
      assert.ok(early >= 3, `the value was recomputed early at least once per TTL, got ${early}`)
      assert.equal(loads, 1 + early, 'loads: the first one plus the early refreshes, nothing else')
    } finally {
      await cache.close()
    }
  })

  it('without early expiration (beta = 0) the same reads do miss at each expiry', async () => {
    // The control for the test above: with beta = 0 the XFetch test `now >= expiry` fires only once the
    // value is gone, so each expiry is a miss that readers wait for.
    const registry = new Registry()
    const cache = createCache<Product>({ ...patientRedis, name: 'no_xfetch', redis: redis.redis, registry, ttlMs: 1_000, beta: 0 })
    const loader = productLoader(db.pool, 0.05)
    try {
      await steadyReads(cache, loader, 3_000)
      const misses = await metricValue(registry, 'cache_misses_total', { cache: 'no_xfetch', level: 'l2' })
      assert.ok(misses >= 3, `first read plus one miss per expiry, got ${misses}`)
      assert.equal(await metricValue(registry, 'cache_early_refreshes_total', { cache: 'no_xfetch' }), 0)
    } finally {
      await cache.close()
    }
  })
})
