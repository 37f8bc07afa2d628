import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createCache } from '../src/index.ts'
import { concurrently, histogramCount, metricValue, patientRedis } from './helpers.ts'

describe('cache metrics', () => {
  let redis: TestRedis
  before(async () => {
    redis = await createTestRedis('cache_metrics')
  })
  after(async () => {
    await redis?.cleanup()
  })

  it('reports every level on the registry it is given, labelled with the cache name', async () => {
    const registry = new Registry()
    const cache = createCache<{ n: number }>({
      ...patientRedis,
      name: 'm',
      redis: redis.redis,
      registry,
      ttlMs: 60_000,
      hotKeys: { threshold: 7, windowMs: 60_000 },
    }) // one window for the whole test: exact counts
    const load = async (key: string): Promise<{ n: number } | undefined> => (key === 'missing' ? undefined : { n: Number(key) })
    try {
      await concurrently(5, () => cache.get('1', load)) // one L2 miss + load, four coalesced waiters
      await cache.get('1', load) // L2 hit (6 reads: not hot yet)
      await cache.get('1', load) // L2 hit; 7 reads: hot → promoted to L1
      await cache.get('1', load) // L1 hit
      await cache.get('missing', load) // negative entry
      await cache.invalidate('1')

      const text = await registry.metrics()
      for (const name of [
        'cache_hits_total',
        'cache_misses_total',
        'cache_stale_served_total',
        'cache_early_refreshes_total',
        'cache_coalesced_waiters_total',
        'cache_load_duration_seconds',
        'cache_l1_entries',
        'cache_hot_keys_promoted_total',
        'cache_bloom_rejections_total',
        'cache_writes_rejected_total',
        'cache_redis_failures_total',
        'cache_invalidations_total',
      ]) {
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is registered`)
      }
      assert.equal(await metricValue(registry, 'cache_misses_total', { cache: 'm', level: 'l2' }), 2)
      assert.equal(await metricValue(registry, 'cache_hits_total', { cache: 'm', level: 'l2' }), 2)
      assert.equal(await metricValue(registry, 'cache_hits_total', { cache: 'm', level: 'l1' }), 1)
      assert.equal(await metricValue(registry, 'cache_coalesced_waiters_total', { cache: 'm' }), 4)
      assert.equal(await metricValue(registry, 'cache_hot_keys_promoted_total', { cache: 'm' }), 1)
      assert.equal(await histogramCount(registry, 'cache_load_duration_seconds', { cache: 'm', outcome: 'found' }), 1)
      assert.equal(await histogramCount(registry, 'cache_load_duration_seconds', { cache: 'm', outcome: 'not_found' }), 1)
      assert.equal(await metricValue(registry, 'cache_invalidations_total', { cache: 'm', origin: 'local' }), 1)
      assert.equal(await metricValue(registry, 'cache_l1_entries', { cache: 'm' }), 0, 'the invalidation emptied L1')
      await cache.get('1', load)
      await cache.get('1', load)
      assert.equal(await metricValue(registry, 'cache_l1_entries', { cache: 'm' }), 1)
    } finally {
      await cache.close()
    }
  })

  it('lets several caches share a registry, but not under one name', async () => {
    const registry = new Registry()
    const products = createCache({ ...patientRedis, name: 'products', redis: redis.redis, registry, ttlMs: 1_000 })
    const reviews = createCache({ ...patientRedis, name: 'reviews', redis: redis.redis, registry, ttlMs: 1_000 })
    try {
      assert.throws(() => createCache({ ...patientRedis, name: 'products', redis: redis.redis, registry, ttlMs: 1_000 }), { code: 'CACHE_ERR_DUPLICATE_NAME' })
      await reviews.get('r1', async () => 'ok')
      assert.equal(await metricValue(registry, 'cache_misses_total', { cache: 'reviews', level: 'l1' }), 1)
      assert.equal(await metricValue(registry, 'cache_misses_total', { cache: 'products', level: 'l1' }), 0)
    } finally {
      await products.close()
      await reviews.close()
    }
  })
})
