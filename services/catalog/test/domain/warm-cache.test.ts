import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRedisBloomFilter } from '@flashsale/cache'
import { generateCatalog } from '../../src/domain/seed-catalog.ts'
import { PRODUCT_BLOOM_NAME } from '../../src/store/cache-names.ts'
import { PRODUCT_BY_ID_SQL } from '../../src/store/product-store.ts'
import { upsertProducts } from '../../src/store/seed-store.ts'
import { startHarness, type Harness } from '../helpers.ts'

describe('cache warming', () => {
  let h: Harness
  before(async () => {
    h = await startHarness('warm', { env: { FEATURED_SKUS: 'SKU-000007,SKU-000042', CACHE_WARM_TOP_N: '5' } })
    const products = generateCatalog(1, 50)
    await upsertProducts(h.db.primary, products)
    // What the seed command does besides the upsert: the running catalog's Bloom filter learns the ids.
    const bloom = createRedisBloomFilter({
      redis: h.redis,
      name: PRODUCT_BLOOM_NAME,
      expectedItems: h.config.BLOOM_EXPECTED_ITEMS,
      falsePositiveRate: h.config.BLOOM_FALSE_POSITIVE_RATE,
    })
    await bloom.add(products.map((p) => p.id))
    // Every replica, not just the one a read happens to pick: warming reads through the router.
    await h.testDb.replicated()
  })
  after(() => h?.close())

  it('loads the featured SKUs and the newest N before traffic: their first reads make no query', async () => {
    assert.equal(await h.app.warmCache(), 7, '2 featured + 5 newest')
    const before = await h.statementCalls(PRODUCT_BY_ID_SQL)
    for (const id of ['prod-000007', 'prod-000042']) assert.equal((await h.get(`/products/${id}`)).statusCode, 200)
    assert.equal(await h.statementCalls(PRODUCT_BY_ID_SQL), before, 'served from the warmed cache')
    assert.equal((await h.get('/products/prod-000001')).statusCode, 200)
    assert.equal(await h.statementCalls(PRODUCT_BY_ID_SQL), before + 1, 'a product that was not warmed is loaded on its first read')
  })
})
