import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createTestProxy, createTestRedis, type TestProxy, type TestRedis } from '@flashsale/testkit'
import pg from 'pg'
import { Registry } from 'prom-client'
import { createCache } from '../src/index.ts'
import { concurrently, createProductsDb, histogramCount, metricValue, patientRedis, productLoader, waitFor, type Product, type ProductsDb } from './helpers.ts'

describe('stale-while-revalidate and stale-if-error (RFC 5861)', () => {
  let db: ProductsDb
  let redis: TestRedis

  before(async () => {
    db = await createProductsDb('cache_stale')
    redis = await createTestRedis('cache_stale')
  })
  after(async () => {
    await redis?.cleanup()
    await db?.cleanup()
  })

  it('serves the stale value while exactly one refresh runs across two instances, then the new value', async () => {
    const other = redis.redis.duplicate()
    const options = { name: 'products', ttlMs: 300, jitter: 0, staleWhileRevalidateMs: 30_000 }
    const registryA = new Registry()
    const registryB = new Registry()
    const a = createCache<Product>({ ...patientRedis, ...options, redis: redis.redis, registry: registryA })
    const b = createCache<Product>({ ...patientRedis, ...options, redis: other, registry: registryB })
    const loader = productLoader(db.pool, 0.3) // the refresh takes 300 ms: long enough to be seen running
    try {
      assert.equal((await a.get('3', loader.load))?.version, 1)
      await sleep(400) // expired, but within the 30 s grace period
      await db.setVersion('3', 2)
      const start = await loader.calls()

      const during = await concurrently(200, (i) => (i % 2 === 0 ? a : b).get('3', loader.load))
      assert.ok(
        during.every((v) => v?.version === 1),
        'every read was answered with the stale value at once, not after the refresh',
      )
      assert.equal(
        await metricValue(registryA, 'cache_stale_served_total', { cache: 'products', reason: 'revalidate' }),
        1,
        'instance A: one L2 read (the other 99 coalesced)',
      )
      assert.equal(await metricValue(registryB, 'cache_stale_served_total', { cache: 'products', reason: 'revalidate' }), 1)

      await waitFor('the refreshed value', async () => (await a.get('3', loader.load))?.version === 2)
      await waitFor('the refreshed value on the other instance', async () => (await b.get('3', loader.load))?.version === 2)
      assert.equal((await loader.calls()) - start, 1, 'exactly one refresh ran, on one of the two instances (Redis lock)')
    } finally {
      await a.close()
      await b.close()
      other.disconnect()
    }
  })

  it('within staleIfError, serves the stale value when the database is down; after it, fails', async () => {
    // The database "goes down" for real: the loader's pool goes through a Toxiproxy proxy we disable.
    let proxy: TestProxy | undefined
    let pool: pg.Pool | undefined
    const registry = new Registry()
    const cache = createCache<Product>({ ...patientRedis, name: 'products_sie', redis: redis.redis, registry, ttlMs: 200, jitter: 0, staleIfErrorMs: 1_500 })
    try {
      proxy = await createTestProxy('cache_stale_pg', db.testDb.primaryUrl)
      pool = new pg.Pool({ connectionString: proxy.rewrite(db.testDb.primaryUrl), max: 2, connectionTimeoutMillis: 1_000 })
      pool.on('error', () => {}) // idle clients dropped by the proxy
      const loader = productLoader(pool)

      assert.equal((await cache.get('4', loader.load))?.version, 1)
      await proxy.disable()
      await sleep(300) // expired, within the 1.5 s stale-if-error window

      assert.equal((await cache.get('4', loader.load))?.version, 1, 'the stale value instead of the error')
      assert.equal(await metricValue(registry, 'cache_stale_served_total', { cache: 'products_sie', reason: 'error' }), 1)

      await sleep(1_500) // past ttl + staleIfError: Redis dropped the entry
      await assert.rejects(cache.get('4', loader.load), 'no stale value left: the loader error reaches the caller')
      assert.equal(
        await histogramCount(registry, 'cache_load_duration_seconds', { cache: 'products_sie', outcome: 'error' }),
        2,
        'both failed loads were measured',
      )
    } finally {
      await proxy?.enable()
      await pool?.end()
      await proxy?.cleanup()
      await cache.close()
    }
  })
})
