import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, uniqueSuffix, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createCache, createRedisBloomFilter, type Cache } from '../src/index.ts'
import { createProductsDb, metricValue, patientRedis, productLoader, type Product, type ProductsDb } from './helpers.ts'

const PRODUCTS = 1_000

/** Ids no product has: products are 1..1000. */
const randomMissingIds = (n: number): string[] => Array.from({ length: n }, () => String(randomInt(1_000_000, 2 ** 47)))

/** Reads every id, 200 concurrent reads at a time (one busy instance). */
async function readAll(cache: Cache<Product>, ids: readonly string[], load: (key: string) => Promise<Product | undefined>): Promise<(Product | undefined)[]> {
  const out: (Product | undefined)[] = []
  for (let i = 0; i < ids.length; i += 200) out.push(...(await Promise.all(ids.slice(i, i + 200).map((id) => cache.get(id, load)))))
  return out
}

describe('cache penetration: Bloom filter and negative caching', () => {
  let db: ProductsDb
  let redis: TestRedis

  before(async () => {
    db = await createProductsDb('cache_penetration', PRODUCTS)
    redis = await createTestRedis('cache_penetration')
  })
  after(async () => {
    await redis?.cleanup()
    await db?.cleanup()
  })

  async function productIds(): Promise<string[]> {
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM products')
    return rows.map((r) => r.id)
  }

  it('10,000 reads of random non-existent ids make at most 30 database queries (Bloom filter p = 0.001)', async () => {
    // n = 1,000 ids, p = 0.001: m = 14,378 bits, k = 10. Expected false positives among 10,000 distinct
    // missing ids: 10,000 × 0.001 = 10; 30 is six standard deviations above that.
    const bloom = createRedisBloomFilter({ redis: redis.redis, name: `products_${uniqueSuffix()}`, expectedItems: PRODUCTS, falsePositiveRate: 0.001 })
    assert.deepEqual(bloom.size, { bits: 14_378, hashes: 10 })
    assert.equal(await bloom.rebuild(await productIds()), PRODUCTS)
    const registry = new Registry()
    const cache = createCache<Product>({ ...patientRedis, name: 'bloom', redis: redis.redis, registry, ttlMs: 60_000, negativeTtlMs: 60_000, bloom })
    const loader = productLoader(db.pool)
    try {
      const start = await loader.calls()
      const missing = randomMissingIds(10_000)
      const values = await readAll(cache, missing, loader.load)
      assert.ok(values.every((v) => v === undefined))
      const queries = (await loader.calls()) - start
      const redisFailures = await registry.getSingleMetricAsString('cache_redis_failures_total')
      assert.ok(queries <= 30, `at most 30 queries, got ${queries}; Redis calls that failed open:\n${redisFailures}`)
      assert.equal(
        await metricValue(registry, 'cache_bloom_rejections_total', { cache: 'bloom' }),
        10_000 - queries,
        'every other read was stopped by the filter',
      )

      await readAll(cache, missing, loader.load)
      assert.equal((await loader.calls()) - start, queries, 'the same ids again: false positives are negative-cached, the rest filtered')

      const existing = await readAll(cache, ['1', '500', '1000'], loader.load)
      assert.deepEqual(
        existing.map((p) => p?.id),
        ['1', '500', '1000'],
        'no false negatives: real products are still found',
      )
    } finally {
      await cache.close()
    }
  })

  it('without a filter, repeated reads of missing ids query once per id (negative cache)', async () => {
    const registry = new Registry()
    const cache = createCache<Product>({ ...patientRedis, name: 'negative', redis: redis.redis, registry, ttlMs: 60_000, negativeTtlMs: 60_000 })
    const loader = productLoader(db.pool)
    try {
      const distinct = randomMissingIds(50)
      const reads = Array.from({ length: 10_000 }, (_, i) => distinct[i % distinct.length]!)
      const start = await loader.calls()
      const values = await readAll(cache, reads, loader.load)
      assert.ok(values.every((v) => v === undefined))
      assert.equal((await loader.calls()) - start, 50, 'one query per distinct missing id')
    } finally {
      await cache.close()
    }
  })

  it('an unbuilt filter lets every read through; ids added before their insert are found at once', async () => {
    // Fail-safe direction: until a rebuild marks the filter ready (first boot, or Redis lost it), it
    // answers "maybe" — no protection, but never a real product reported missing.
    const bloom = createRedisBloomFilter({ redis: redis.redis, name: `products_${uniqueSuffix()}`, expectedItems: PRODUCTS, falsePositiveRate: 0.01 })
    const cache = createCache<Product>({
      ...patientRedis,
      name: 'bloom_lifecycle',
      redis: redis.redis,
      registry: new Registry(),
      ttlMs: 60_000,
      negativeTtlMs: 1,
      bloom,
    })
    const loader = productLoader(db.pool)
    try {
      assert.equal(await bloom.isReady(), false)
      assert.equal((await cache.get('42', loader.load))?.id, '42', 'found although the filter is empty')

      await bloom.rebuild(await productIds())
      assert.equal(await bloom.isReady(), true)
      const start = await loader.calls()
      const id = String(PRODUCTS + 1)
      assert.equal(await cache.get(id, loader.load), undefined)
      assert.equal((await loader.calls()) - start, 0, 'the filter ruled the new id out without a query')

      // The writer's order: add to the filter, commit the row, invalidate the key.
      await bloom.add(id)
      await db.pool.query(`INSERT INTO products VALUES ($1, 'new', 1)`, [id])
      await cache.invalidate(id)
      assert.equal((await cache.get(id, loader.load))?.name, 'new')
    } finally {
      await cache.close()
    }
  })
})
