/**
 * GET /sales/active through the real HTTP client, against a stand-in that answers the inventory's two
 * public read endpoints with the inventory's JSON shapes (services/inventory/README.md). The inventory
 * service itself is another service's test subject; this suite checks what catalog does with its answers.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import { createInventoryClient } from '../../src/clients/inventory-client.ts'
import { assertProblem, startHarness, waitFor, type Harness } from '../helpers.ts'

describe('GET /sales/active', () => {
  let h: Harness
  let inventory: FastifyInstance
  let up = true
  const now = Date.now()
  const sale = (id: string, sku: string, startOffset: number, endOffset: number, state = 'active') => ({
    id,
    sku,
    title: `sale ${id}`,
    totalUnits: 100,
    perUserLimit: 2,
    startsAt: new Date(now + startOffset).toISOString(),
    endsAt: new Date(now + endOffset).toISOString(),
    reservationTtlSeconds: 600,
    state,
  })
  const sales = [sale('s-open', 'SKU-A', -60_000, 3_600_000), sale('s-over', 'SKU-A', -7_200_000, -3_600_000, 'closed'), sale('s-b', 'SKU-B', -1_000, 60_000)]

  before(async () => {
    inventory = Fastify()
    inventory.addHook('onRequest', async (_req, reply) => {
      if (!up) return reply.code(503).send({ code: 'DOWN' })
    })
    inventory.get<{ Querystring: { sku: string } }>('/sales', async (req) => ({ sales: sales.filter((s) => s.sku === req.query.sku) }))
    inventory.get<{ Params: { id: string } }>('/sales/:id', async (req, reply) => {
      const s = sales.find((x) => x.id === req.params.id)
      if (!s) return reply.code(404).send({})
      return { sale: s, status: 'open', approximateAvailable: s.id === 's-open' ? 37 : 5 }
    })
    const address = await inventory.listen({ host: '127.0.0.1', port: 0 })
    h = await startHarness('sales', {
      env: { FEATURED_SKUS: 'SKU-A', SALES_CACHE_TTL_MS: '100' },
      sales: createInventoryClient({ urls: [address], timeoutMs: 2_000 }),
    })
    await h.createProduct({ sku: 'SKU-A', name: 'The A', priceCents: 999 })
    // Lookups by SKU read the replicas: wait until every replica has replayed the new product.
    await Promise.all(
      h.testDb.replicaUrls.map(async (url) => {
        const replica = new pg.Client({ connectionString: url })
        await replica.connect()
        try {
          await waitFor('the product on the replica', async () => (await replica.query("SELECT 1 FROM catalog.products WHERE sku = 'SKU-A'")).rowCount === 1)
        } finally {
          await replica.end()
        }
      }),
    )
  })
  after(async () => {
    await h?.close()
    await inventory?.close()
  })

  it('lists the current sales of the featured SKUs with approximate units left and the product', async () => {
    const res = await h.get('/sales/active')
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.approximate, true)
    assert.deepEqual(
      body.sales.map((s: { id: string }) => s.id),
      ['s-open'],
      'the closed sale is left out',
    )
    assert.equal(body.sales[0].approximateAvailable, 37)
    assert.equal(body.sales[0].product.name, 'The A')
  })

  it('?sku= picks the SKUs; a SKU without a catalog product still shows its sale', async () => {
    const body = (await h.get('/sales/active?sku=SKU-A,SKU-B')).json()
    assert.deepEqual(body.sales.map((s: { id: string }) => s.id).sort(), ['s-b', 's-open'])
    assert.equal(body.sales.find((s: { id: string }) => s.id === 's-b').product, null)
  })

  it('bad SKUs answer 400 problem+json', async () => {
    for (const q of ['sku=', 'sku=a%20b', 'sku=A,,B', `sku=${Array.from({ length: 21 }, (_, i) => `S${i}`).join(',')}`, 'other=1']) {
      assertProblem(await h.get(`/sales/active?${q}`), 400, 'VALIDATION_FAILED')
    }
  })

  it('the inventory down: the last answer while it is recent (stale-if-error), else 503 with Retry-After', async () => {
    up = false
    try {
      const stale = await h.get('/sales/active?sku=SKU-A')
      assert.equal(stale.statusCode, 200, 'served stale within staleIfError')
      const res = await h.get('/sales/active?sku=SKU-C')
      const problem = assertProblem(res, 503, 'CATALOG_ERR_INVENTORY_UNAVAILABLE')
      assert.ok(problem)
      assert.equal(res.headers['retry-after'], '1')
    } finally {
      up = true
    }
  })
})
