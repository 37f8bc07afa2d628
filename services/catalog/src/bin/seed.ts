/**
 * Seeds the catalog with a deterministic catalog (src/domain/seed-catalog.ts): same seed → same products.
 * Idempotent: re-running changes nothing; a different seed or count upserts the difference. With REDIS_URL
 * it also adds the ids to the running catalog's Bloom filter (else new ids would read as "not found")
 * and invalidates the cached copies of the products it changed.
 *
 *   node services/catalog/src/bin/seed.ts [--seed 42] [--count 10000]
 * Env: PG_PRIMARY_URL (required), REDIS_URL, BLOOM_EXPECTED_ITEMS, BLOOM_FALSE_POSITIVE_RATE (as the service).
 */
import { parseArgs } from 'node:util'
import { createRedis } from '@flashsale/redis'
import { createCache, createRedisBloomFilter } from '@flashsale/cache'
import { Type, loadConfig } from '@flashsale/config'
import { createPrimaryPool } from '@flashsale/db'
import { Registry } from '@flashsale/metrics'
import { ConfigSchema } from '../config.ts'
import { generateCatalog } from '../domain/seed-catalog.ts'
import { PRODUCT_BLOOM_NAME, PRODUCT_CACHE } from '../store/cache-names.ts'
import { migrateCatalog } from '../store/migrations.ts'
import { upsertProducts } from '../store/seed-store.ts'

const { values } = parseArgs({ options: { seed: { type: 'string', default: '42' }, count: { type: 'string', default: '10000' } } })
const seed = Number(values.seed)
const count = Number(values.count)
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1 || count > 1_000_000) {
  console.error('usage: seed.ts [--seed <integer>] [--count <1..1000000>]')
  process.exit(2)
}
const env = loadConfig(
  Type.Object({
    PG_PRIMARY_URL: ConfigSchema.properties.PG_PRIMARY_URL,
    REDIS_URL: Type.String({ default: '' }),
    BLOOM_EXPECTED_ITEMS: ConfigSchema.properties.BLOOM_EXPECTED_ITEMS,
    BLOOM_FALSE_POSITIVE_RATE: ConfigSchema.properties.BLOOM_FALSE_POSITIVE_RATE,
  }),
  process.env,
)

const started = performance.now()
const pool = createPrimaryPool(env.PG_PRIMARY_URL, { role: 'primary', name: 'catalog-seed', max: 2, min: 0 })
try {
  await migrateCatalog(pool)
  const products = generateCatalog(seed, count)
  const changed = await upsertProducts(pool, products)
  if (env.REDIS_URL) {
    const redis = createRedis(env.REDIS_URL, { maxRetriesPerRequest: 1 })
    try {
      const bloom = createRedisBloomFilter({
        redis,
        name: PRODUCT_BLOOM_NAME,
        expectedItems: env.BLOOM_EXPECTED_ITEMS,
        falsePositiveRate: env.BLOOM_FALSE_POSITIVE_RATE,
      })
      // In slices: one add is one script call with every bit position as an argument.
      for (let i = 0; i < products.length; i += 500) await bloom.add(products.slice(i, i + 500).map((p) => p.id))
      const cache = createCache({ ...PRODUCT_CACHE, redis, registry: new Registry(), ttlMs: 60_000 })
      for (let i = 0; i < changed.length; i += 1_000) await cache.invalidate(changed.slice(i, i + 1_000))
      await cache.close()
    } finally {
      redis.disconnect()
    }
  }
  console.log(`catalog seed ${seed}: ${count} products, ${changed.length} inserted or changed, in ${Math.round(performance.now() - started)} ms`)
} finally {
  await pool.end()
}
