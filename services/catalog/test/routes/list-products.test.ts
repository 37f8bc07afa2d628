import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateCatalog } from '../../src/domain/seed-catalog.ts'
import { upsertProducts } from '../../src/store/seed-store.ts'
import { assertProblem, metricValue, startHarness, type Harness } from '../helpers.ts'

describe('GET /products (keyset pages from the replicas)', () => {
  let h: Harness
  before(async () => {
    h = await startHarness('list')
    await upsertProducts(h.db.primary, generateCatalog(7, 300))
    // Every replica replays the seed before the first listing (lists read replicas, any of them; asking one
    // through the read router let a listing reach the other before it had replayed: an empty page).
    await h.testDb.replicated()
  })
  after(() => h?.close())

  async function walk(query: string): Promise<Array<{ id: string; priceCents: number; name: string; category: string }>> {
    const seen = []
    let cursor: string | null = null
    let pages = 0
    do {
      assert.ok(++pages <= 100, 'the cursor walk ends (no page repeats)')
      const res = await h.get(`/products?${query}${cursor ? `&cursor=${cursor}` : ''}`)
      assert.equal(res.statusCode, 200, res.body)
      const page = res.json()
      assert.ok(page.products.length <= 7)
      seen.push(...page.products)
      cursor = page.nextCursor
    } while (cursor)
    return seen
  }

  it('walks every product of a category once, in price order, page by page', async () => {
    const { rows } = await h.db.query<{ id: string }>(`SELECT id FROM catalog.products WHERE category = 'audio' ORDER BY price_cents DESC, id DESC`)
    assert.ok(rows.length > 7, 'the seed has several pages of audio')
    const seen = await walk('category=audio&sort=price&order=desc&limit=7')
    assert.deepEqual(
      seen.map((p) => p.id),
      rows.map((r) => r.id),
    )
  })

  it('sorts by name and by creation time', async () => {
    const byName = await walk('sort=name&limit=7&category=books')
    assert.ok(byName.length > 7)
    const { rows } = await h.db.query<{ id: string }>(`SELECT id FROM catalog.products WHERE category = 'books' ORDER BY name, id`)
    assert.deepEqual(
      byName.map((p) => p.id),
      rows.map((r) => r.id),
    )
    const byCreated = await walk('sort=created&order=asc&limit=7&category=toys')
    const created = await h.db.query<{ id: string }>(`SELECT id FROM catalog.products WHERE category = 'toys' ORDER BY created_at, id`)
    assert.deepEqual(
      byCreated.map((p) => p.id),
      created.rows.map((r) => r.id),
    )
  })

  it('bad paging and filters answer 400 problem+json', async () => {
    for (const q of [
      'limit=0',
      'limit=101',
      'limit=ten',
      'sort=password',
      'sort=price%3B%20DROP',
      'order=sideways',
      'category=Not%20Slug',
      'category=' + 'a'.repeat(41),
      'cursor=%7B%7D',
      'unknown=1',
    ]) {
      assertProblem(await h.get(`/products?${q}`), 400, 'VALIDATION_FAILED')
    }
    assertProblem(await h.get('/products?cursor=bm90LWpzb24'), 400, 'CATALOG_ERR_INVALID_CURSOR')
    const page = (await h.get('/products?sort=price&limit=2')).json()
    assertProblem(await h.get(`/products?sort=name&limit=2&cursor=${page.nextCursor}`), 400, 'CATALOG_ERR_INVALID_CURSOR')
    assertProblem(await h.get(`/products?sort=price&limit=2&category=books&cursor=${page.nextCursor}`), 400, 'CATALOG_ERR_INVALID_CURSOR')
  })

  it('an admin sees their new product in lists at once (read-your-own-writes → primary); others read replicas', async () => {
    const admin = await h.adminToken('writer-1')
    const replicaReads = () => metricValue(h.metrics.registry, 'db_reads_total', { target: 'replica', reason: 'replica' })
    const ryowReads = () => metricValue(h.metrics.registry, 'db_reads_total', { target: 'primary', reason: 'read_your_writes' })
    const p = await h.createProduct({ category: 'ryow-test', name: 'Fresh' }, 'writer-1')
    const r0 = await ryowReads()
    const mine = await h.get('/products?category=ryow-test', admin)
    assert.deepEqual(
      mine.json().products.map((x: { id: string }) => x.id),
      [p.id],
    )
    assert.equal(await ryowReads(), r0 + 1, "the writer's list went to the primary")
    const rep0 = await replicaReads()
    assert.equal((await h.get('/products?category=ryow-test')).statusCode, 200)
    assert.equal(await replicaReads(), rep0 + 1, "an anonymous reader's list went to a replica")
  })
})
