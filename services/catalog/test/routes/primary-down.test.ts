/**
 * The catalog with its PostgreSQL primary unreachable (a real connection cut through Toxiproxy): product
 * pages, cache miss included, come from a replica; the instance stays ready (the primary is a shared
 * dependency, reported at /health/deps); a write answers 503 + Retry-After, never 500 (ADR 0028).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { startHarness, waitFor, type Harness } from '../helpers.ts'

describe('catalog with the primary down', () => {
  let h: Harness
  let proxy: TestProxy
  before(async () => {
    const infra = await getInfra()
    proxy = await createTestProxy('catalog_primary', infra.pgPrimaryUrl)
    h = await startHarness('primary_down', { primaryUrl: (url) => proxy.rewrite(url) })
  })
  after(async () => {
    await proxy?.enable().catch(() => {})
    await h?.close()
    await proxy?.cleanup()
  })
  it('serves a product page that was never cached from a replica, stays ready, and refuses writes with 503', async () => {
    const p = await h.createProduct({ category: 'primary-down' })
    // Every replica has replayed it (each standby replays at its own pace; the page read may go to either).
    await h.testDb.replicated()

    await proxy.disable()
    try {
      const page = await h.get(`/products/${p.id}`)
      assert.equal(page.statusCode, 200, page.body)
      assert.equal(page.json().product.id, p.id)

      assert.equal((await h.get('/health/ready')).statusCode, 200, 'ready: the replicas and the cache serve the core route')
      const deps = await h.get('/health/deps')
      assert.equal(deps.statusCode, 503)
      assert.equal(deps.json().dependencies['postgres-primary'].status, 'down')
      assert.equal(deps.json().dependencies['postgres-replicas'].status, 'up')

      const write = await h.app.inject({
        method: 'POST',
        url: '/admin/products',
        headers: { authorization: `Bearer ${await h.adminToken()}` },
        payload: {
          id: 'p-during-outage',
          sku: 'SKU-during-outage',
          name: 'n',
          category: 'c',
          priceCents: 1,
          imageUrl: 'https://img.example/p.jpg',
          description: 'd',
        },
      })
      assert.equal(write.statusCode, 503, write.body)
      assert.equal(write.json().code, 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE')
      assert.ok(Number(write.headers['retry-after']) >= 1)
    } finally {
      await proxy.enable()
    }
    // Back within moments: the write pool looks for the primary again (packages/db, at most every 250 ms).
    await waitFor('the primary is back at /health/deps', async () => (await h.get('/health/deps')).statusCode === 200)
  })
})
