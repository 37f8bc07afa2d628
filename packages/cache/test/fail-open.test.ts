import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestProxy, createTestRedis, type TestProxy, type TestRedis } from '@flashsale/testkit'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { createCache, createRedisBloomFilter, type Loader } from '../src/index.ts'
import { concurrently, createProductsDb, metricValue, productLoader, waitFor, type Product, type ProductsDb } from './helpers.ts'

/**
 * Redis "goes down" for real: the cache's connection goes through a Toxiproxy proxy that refuses every
 * connection, while other suites keep using the same Redis directly.
 */
describe('fail-open reads when Redis is down', () => {
  let db: ProductsDb
  let redis: TestRedis
  let proxy: TestProxy
  const clients: Redis[] = []

  before(async () => {
    db = await createProductsDb('cache_fail_open')
    redis = await createTestRedis('cache_fail_open')
    proxy = await createTestProxy('cache_fail_open_redis', redis.url)
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    await proxy?.cleanup()
    await redis?.cleanup()
    await db?.cleanup()
  })

  /** A connection to Redis through the proxy, with the options the README recommends. */
  const proxiedRedis = (): Redis => {
    const client = new Redis(proxy.rewrite(redis.url), { keyPrefix: redis.prefix, lazyConnect: true, maxRetriesPerRequest: 1 })
    client.on('error', () => {}) // refused connections, expected here
    clients.push(client)
    return client
  }

  it('serves reads from the database, and 1,000 concurrent reads still make one query', async () => {
    await proxy.disable()
    const registry = new Registry()
    const cache = createCache<Product>({ name: 'down', redis: proxiedRedis(), registry, ttlMs: 60_000, l1: { ttlMs: 60_000 } })
    const loader = productLoader(db.pool, 0.1)
    try {
      const start = await loader.calls()
      const values = await concurrently(1_000, () => cache.get('21', loader.load))
      assert.ok(
        values.every((v) => v?.id === '21'),
        'every read answered from the database',
      )
      assert.equal((await loader.calls()) - start, 1, 'singleflight still coalesced them into one query')

      const more = await concurrently(100, () => cache.get('21', loader.load))
      assert.ok(more.every((v) => v?.id === '21'))
      assert.equal((await loader.calls()) - start, 1, 'the hot key is served from L1 while Redis is away')
      const failures =
        (await metricValue(registry, 'cache_redis_failures_total', { cache: 'down', failure: 'timeout' })) +
        (await metricValue(registry, 'cache_redis_failures_total', { cache: 'down', failure: 'error' }))
      assert.ok(failures >= 1, 'the Redis failures were counted')
    } finally {
      await cache.close()
      await proxy.enable()
    }
  })

  it('a read while Redis hangs pays one Redis timeout, not one per step (entry, then Bloom filter)', async () => {
    // Redis answers, but 2 s late: every call times out at 100 ms. Two unknown ids, each read once.
    await proxy.addLatency(2_000)
    const registry = new Registry()
    const client = proxiedRedis()
    const bloom = createRedisBloomFilter({ redis: client, name: 'hanging', expectedItems: 1_000, falsePositiveRate: 0.01 })
    const cache = createCache<Product>({ name: 'hanging', redis: client, registry, ttlMs: 60_000, redisTimeoutMs: 100, bloom })
    const loader = productLoader(db.pool)
    try {
      for (const id of ['31', '32']) assert.equal((await cache.get(id, loader.load))?.id, id, 'answered from the database')
      const timeouts = await metricValue(registry, 'cache_redis_failures_total', { cache: 'hanging', failure: 'timeout' })
      const open = await metricValue(registry, 'cache_redis_failures_total', { cache: 'hanging', failure: 'circuit_open' })
      assert.equal(timeouts + open, 2, `one Redis failure per read (timeouts ${timeouts}, circuit open ${open})`)
    } finally {
      await cache.close()
      await proxy.removeToxics()
    }
  })

  it('invalidate() rejects with CACHE_ERR_INVALIDATION_FAILED, yet drops L1 and keeps an in-flight load from refilling it', async () => {
    await proxy.disable()
    const cache = createCache<Product>({
      name: 'down_invalidate',
      redis: proxiedRedis(),
      registry: new Registry(),
      ttlMs: 60_000,
      hotKeys: { threshold: 1 },
      l1: { ttlMs: 60_000 },
    })
    const { promise: gate, resolve: openGate } = Promise.withResolvers<void>()
    let loads = 0
    const gatedLoader: Loader<Product> = async (key) => {
      const { rows } = await db.pool.query<Product>('SELECT id, name, version FROM products WHERE id = $1', [key])
      if (++loads === 1) await gate
      return rows[0]
    }
    try {
      await db.setVersion('22', 1)
      const inFlight = cache.get('22', gatedLoader)
      await waitFor('the load to read version 1', () => loads === 1)
      await db.setVersion('22', 2)
      await assert.rejects(cache.invalidate('22'), { code: 'CACHE_ERR_INVALIDATION_FAILED' })
      openGate()
      assert.equal((await inFlight)?.version, 1)
      assert.equal((await cache.get('22', gatedLoader))?.version, 2, 'the old load did not land in L1')
    } finally {
      await cache.close()
      await proxy.enable()
    }
  })

  it('uses Redis again once it answers', async () => {
    await proxy.disable()
    const registry = new Registry()
    // Never hot: every read goes past L1, so L2 hits show Redis is back.
    const cache = createCache<Product>({ name: 'back', redis: proxiedRedis(), registry, ttlMs: 60_000, hotKeys: { threshold: 1e9 }, redisRetryAfterMs: 200 })
    const loader = productLoader(db.pool)
    try {
      assert.equal((await cache.get('23', loader.load))?.id, '23')
      await proxy.enable()
      await waitFor(
        'a read answered by Redis',
        async () => {
          assert.equal((await cache.get('23', loader.load))?.id, '23')
          return (await metricValue(registry, 'cache_hits_total', { cache: 'back', level: 'l2' })) >= 1
        },
        15_000,
      )
    } finally {
      await cache.close()
    }
  })
})
