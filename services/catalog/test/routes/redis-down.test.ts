/**
 * The catalog with its Redis unreachable (a real connection cut through Toxiproxy): product pages and lists
 * fail open to PostgreSQL, as the cache package documents; the instance stays ready (Redis is a shared
 * dependency, reported at /health/deps; ADR 0028); nothing answers 500.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { startHarness, type Harness } from '../helpers.ts'

describe('catalog with Redis down', () => {
  let h: Harness
  let proxy: TestProxy
  before(async () => {
    const infra = await getInfra()
    proxy = await createTestProxy('catalog_redis', infra.redisUrl)
    h = await startHarness('redis_down', { redisUrl: (url) => proxy.rewrite(url) })
  })
  after(async () => {
    await proxy?.enable().catch(() => {})
    await h?.close()
    await proxy?.cleanup()
  })

  it('serves product pages (cached before, and never cached) and lists from PostgreSQL, and stays ready', async () => {
    const cached = await h.createProduct({ category: 'redis-down' })
    const cold = await h.createProduct({ category: 'redis-down' })
    assert.equal((await h.get(`/products/${cached.id}`)).statusCode, 200)
    // Every replica has both (the reads below may go to either standby, each replaying at its own pace).
    await h.testDb.replicated()

    await proxy.disable()
    try {
      for (const p of [cached, cold]) {
        const page = await h.get(`/products/${p.id}`)
        assert.equal(page.statusCode, 200, page.body)
        assert.equal(page.json().product.id, p.id)
      }
      const list = await h.get('/products?category=redis-down')
      assert.equal(list.statusCode, 200, list.body)
      assert.equal(list.json().products.length, 2)
      assert.equal((await h.get('/health/ready')).statusCode, 200)
      const deps = await h.get('/health/deps')
      assert.equal(deps.statusCode, 503)
      assert.equal(deps.json().dependencies.redis.status, 'down')
    } finally {
      await proxy.enable()
    }
  })
})
