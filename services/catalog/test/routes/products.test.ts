import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { PRODUCT_BY_ID_SQL } from '../../src/store/product-store.ts'
import { assertProblem, metricValue, startHarness, uid, type Harness } from '../helpers.ts'

describe('catalog products', () => {
  let h: Harness
  let admin: string
  before(async () => {
    h = await startHarness('products')
    admin = await h.adminToken()
  })
  after(() => h?.close())

  it('an admin creates a product and anyone reads it by id', async () => {
    const created = await h.createProduct({ name: 'Kumo Pro Earbuds', category: 'audio', priceCents: 4999 })
    const res = await h.get(`/products/${created.id}`)
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json().product, created)
    assert.equal(created['priceCents'], 4999)
  })

  it('GET /products/:id of an unknown id answers 404 CATALOG_ERR_PRODUCT_NOT_FOUND', async () => {
    assertProblem(await h.get('/products/no-such-product'), 404, 'CATALOG_ERR_PRODUCT_NOT_FOUND')
  })

  it('the second GET of a product is served from the cache: no database query', async () => {
    const { id } = await h.createProduct()
    const before = await h.statementCalls(PRODUCT_BY_ID_SQL)
    assert.equal((await h.get(`/products/${id}`)).statusCode, 200)
    const afterFirst = await h.statementCalls(PRODUCT_BY_ID_SQL)
    assert.equal(afterFirst, before + 1, 'the first read loads the row from the primary once')
    for (let i = 0; i < 5; i++) assert.equal((await h.get(`/products/${id}`)).statusCode, 200)
    assert.equal(await h.statementCalls(PRODUCT_BY_ID_SQL), afterFirst, 'later reads never reach the database')
  })

  it('reads of random ids that do not exist barely reach the database (Bloom filter + negative cache)', async () => {
    const before = await h.statementCalls(PRODUCT_BY_ID_SQL)
    for (let i = 0; i < 200; i++) assert.equal((await h.get(`/products/missing-${randomBytes(6).toString('hex')}`)).statusCode, 404)
    // p = 0.001 at 10,000 ids, a handful in the filter: expected ~0 false positives; 5 is generous.
    const queries = (await h.statementCalls(PRODUCT_BY_ID_SQL)) - before
    const failures = await h.metrics.registry.getSingleMetric('cache_redis_failures_total')?.get()
    assert.ok(queries <= 5, `${queries} database queries for 200 unknown ids; Redis failures of the cache: ${JSON.stringify(failures?.values ?? [])}`)
    assert.ok((await metricValue(h.metrics.registry, 'cache_bloom_rejections_total', { cache: 'products' })) >= 195)
  })

  it('a PATCH is visible on the next read (delete-on-write after the commit)', async () => {
    const { id } = await h.createProduct({ priceCents: 1000 })
    assert.equal((await h.get(`/products/${id}`)).json().product.priceCents, 1000) // now cached
    const res = await h.app.inject({
      method: 'PATCH',
      url: `/admin/products/${id}`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { priceCents: 750, name: 'Cheaper' },
    })
    assert.equal(res.statusCode, 200)
    const read = (await h.get(`/products/${id}`)).json().product
    assert.equal(read.priceCents, 750)
    assert.equal(read.name, 'Cheaper')
  })

  it('a created id is found at once even after a cached "not found" of the same id', async () => {
    const id = uid('later')
    assertProblem(await h.get(`/products/${id}`), 404)
    await h.createProduct({ id })
    assert.equal((await h.get(`/products/${id}`)).statusCode, 200)
  })

  it('admin routes answer 401 without a token and 403 for a buyer, changing nothing', async () => {
    const before = await h.snapshot()
    const body = { sku: 'SKU-X', name: 'x', category: 'phones', priceCents: 1 }
    assertProblem(await h.app.inject({ method: 'POST', url: '/admin/products', payload: body }), 401, 'AUTH_ERR_UNAUTHENTICATED')
    const buyer = await h.buyerToken('alice')
    assertProblem(
      await h.app.inject({ method: 'POST', url: '/admin/products', headers: { authorization: `Bearer ${buyer}` }, payload: body }),
      403,
      'AUTH_ERR_FORBIDDEN',
    )
    assertProblem(
      await h.app.inject({ method: 'PATCH', url: '/admin/products/whatever', headers: { authorization: `Bearer ${buyer}` }, payload: { name: 'y' } }),
      403,
    )
    assert.deepEqual(await h.snapshot(), before)
  })

  it('duplicate id or SKU answers 409, changing nothing', async () => {
    const p = await h.createProduct()
    const before = await h.snapshot()
    const post = (payload: object) => h.app.inject({ method: 'POST', url: '/admin/products', headers: { authorization: `Bearer ${admin}` }, payload })
    assertProblem(await post({ id: p.id, sku: 'SKU-other-1', name: 'n', category: 'phones', priceCents: 1 }), 409, 'CATALOG_ERR_PRODUCT_EXISTS')
    assertProblem(await post({ sku: p['sku'], name: 'n', category: 'phones', priceCents: 1 }), 409, 'CATALOG_ERR_SKU_EXISTS')
    assert.deepEqual(await h.snapshot(), before)
  })

  it('bad admin input answers 400 problem+json and changes nothing', async () => {
    const p = await h.createProduct()
    const before = await h.snapshot()
    const auth = { authorization: `Bearer ${admin}` }
    const good = { sku: 'SKU-ok', name: 'n', category: 'phones', priceCents: 100 }
    const badBodies = [
      { ...good, priceCents: -1 },
      { ...good, priceCents: 1.5 },
      { ...good, name: '' },
      { ...good, name: 'x'.repeat(201) },
      { ...good, category: 'Not A Slug' },
      { ...good, sku: 'has space' },
      { ...good, id: '{braces}' },
      { ...good, imageUrl: 'javascript:alert(1)' },
      { ...good, extra: true },
      { sku: 'SKU-missing-fields' },
    ]
    for (const payload of badBodies)
      assertProblem(await h.app.inject({ method: 'POST', url: '/admin/products', headers: auth, payload }), 400, 'VALIDATION_FAILED')
    for (const payload of [{}, { sku: 'SKU-new' }, { priceCents: 'ten' }, { description: 'x'.repeat(4001) }]) {
      assertProblem(await h.app.inject({ method: 'PATCH', url: `/admin/products/${p.id}`, headers: auth, payload }), 400, 'VALIDATION_FAILED')
    }
    assertProblem(await h.app.inject({ method: 'PATCH', url: '/admin/products/bad%20id', headers: auth, payload: { name: 'n' } }), 400)
    assertProblem(
      await h.app.inject({ method: 'PATCH', url: '/admin/products/unknown-id', headers: auth, payload: { name: 'n' } }),
      404,
      'CATALOG_ERR_PRODUCT_NOT_FOUND',
    )
    assert.deepEqual(await h.snapshot(), before)
  })
})
