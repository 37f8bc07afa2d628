import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createCache } from '../src/index.ts'
import { concurrently, createProductsDb, metricValue, patientRedis, productLoader, type Product, type ProductsDb } from './helpers.ts'

describe('stampede protection (singleflight)', () => {
  let db: ProductsDb
  let redis: TestRedis

  before(async () => {
    db = await createProductsDb('cache_stampede')
    redis = await createTestRedis('cache_stampede')
  })
  after(async () => {
    await redis?.cleanup()
    await db?.cleanup()
  })

  it('1,000 concurrent reads of an expired hot key make exactly one database query', async () => {
    const registry = new Registry()
    // beta 0: no early (XFetch) refresh, which legitimately adds a load when late readers hit the fresh value
    // near its short TTL; this test is about coalescing (early-expiration.test.ts covers XFetch).
    const cache = createCache<Product>({
      ...patientRedis,
      name: 'products',
      redis: redis.redis,
      registry,
      ttlMs: 300,
      jitter: 0,
      beta: 0,
      hotKeys: { threshold: 5 },
    })
    const loader = productLoader(db.pool, 0.1) // a slow statement: the 1,000 reads all arrive while it runs
    try {
      const start = await loader.calls()
      for (let i = 0; i < 10; i++) assert.equal((await cache.get('7', loader.load))?.version, 1)
      assert.equal((await loader.calls()) - start, 1, 'warming: one load, then hits')
      assert.ok((await metricValue(registry, 'cache_hits_total', { cache: 'products', level: 'l1' })) > 0, 'the key is hot: served from L1')

      await sleep(400) // past the 300 ms TTL with no grace period: gone from L1 and from Redis
      const before = await loader.calls()
      const values = await concurrently(1_000, () => cache.get('7', loader.load))

      assert.equal((await loader.calls()) - before, 1, 'exactly one SELECT reached PostgreSQL')
      assert.ok(
        values.every((v) => v?.id === '7' && v.version === 1),
        'every reader got the row',
      )
      assert.equal(await metricValue(registry, 'cache_coalesced_waiters_total', { cache: 'products' }), 999)
    } finally {
      await cache.close()
    }
  })

  it('with two instances sharing Redis, 1,000 concurrent reads make at most one query per instance', async () => {
    // Decision (ADR 0007): cold misses are coalesced per process, not across processes — N instances
    // make at most N loads of one key. A cross-instance lock would make the others poll Redis for the
    // winner's value; refreshes of an existing value do take a Redis lock (see stale.test.ts).
    const other = redis.redis.duplicate()
    const a = createCache<Product>({ ...patientRedis, name: 'products', redis: redis.redis, registry: new Registry(), ttlMs: 60_000 })
    const b = createCache<Product>({ ...patientRedis, name: 'products', redis: other, registry: new Registry(), ttlMs: 60_000 })
    const loader = productLoader(db.pool, 0.2)
    try {
      const start = await loader.calls()
      const values = await concurrently(1_000, (i) => (i % 2 === 0 ? a : b).get('8', loader.load))
      const loads = (await loader.calls()) - start
      assert.ok(loads >= 1 && loads <= 2, `1 or 2 loads for two instances, got ${loads}`)
      assert.ok(values.every((v) => v?.id === '8'))

      await concurrently(100, (i) => (i % 2 === 0 ? a : b).get('8', loader.load))
      assert.equal((await loader.calls()) - start, loads, 'afterwards both instances read it from Redis')
    } finally {
      await a.close()
      await b.close()
      other.disconnect()
    }
  })
})
