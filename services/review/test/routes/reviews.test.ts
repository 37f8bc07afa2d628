import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertProblem, startHarness, uid, type Harness } from '../helpers.ts'

const text = 'Arrived quickly and works exactly as described.'

describe('reviews', () => {
  let h: Harness
  const product = (sku = uid('SKU')) => {
    const id = uid('prod')
    h.catalogProducts.set(id, sku)
    return { id, sku }
  }
  before(async () => {
    h = await startHarness('reviews')
  })
  after(() => h?.close())

  it('a verified buyer reviews a product once; the second POST answers 409 and changes nothing', async () => {
    const p = product()
    await h.buy('alice', p.sku)
    const res = await h.post(p.id, 'alice', { rating: 4, title: 'Good', body: text })
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.json().review.rating, 4)
    assert.equal(res.json().review.userId, 'alice')
    const before = await h.snapshot()
    assertProblem(await h.post(p.id, 'alice', { rating: 1, body: 'Changed my mind entirely.' }), 409, 'REVIEW_ERR_ALREADY_REVIEWED')
    assert.deepEqual(await h.snapshot(), before)
  })

  it('a review by a user who did not buy the product answers 403 problem+json, nothing stored', async () => {
    const p = product()
    const other = product()
    await h.buy('bob', other.sku) // bought something else
    const before = await h.snapshot()
    assertProblem(await h.post(p.id, 'bob', { rating: 5, body: text }), 403, 'REVIEW_ERR_NOT_VERIFIED_BUYER')
    assertProblem(await h.post(p.id, 'carol', { rating: 5, body: text }), 403, 'REVIEW_ERR_NOT_VERIFIED_BUYER')
    assert.deepEqual(await h.snapshot(), before)
  })

  it('a cancelled or rejected order does not make a verified buyer', async () => {
    const p = product()
    await h.buy('dave', p.sku, 'cancelled')
    await h.buy('erin', p.sku, 'rejected')
    assertProblem(await h.post(p.id, 'dave', { rating: 5, body: text }), 403, 'REVIEW_ERR_NOT_VERIFIED_BUYER')
    assertProblem(await h.post(p.id, 'erin', { rating: 5, body: text }), 403, 'REVIEW_ERR_NOT_VERIFIED_BUYER')
  })

  it('an unknown product answers 404; no token answers 401', async () => {
    assertProblem(await h.post('prod-unknown', 'alice', { rating: 5, body: text }), 404, 'REVIEW_ERR_PRODUCT_NOT_FOUND')
    const p = product()
    assertProblem(await h.post(p.id, null, { rating: 5, body: text }), 401, 'AUTH_ERR_UNAUTHENTICATED')
  })

  it('the rating aggregates count, average and histogram, and follows new reviews at once', async () => {
    const p = product()
    const rating = async () => (await h.get(`/products/${p.id}/rating`)).json()
    assert.deepEqual(await rating(), { productId: p.id, count: 0, average: null, histogram: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 } })
    for (const [user, stars] of [
      ['r1', 5],
      ['r2', 4],
      ['r3', 4],
    ] as const) {
      await h.buy(user, p.sku, 'paid')
      assert.equal((await h.post(p.id, user, { rating: stars, body: text })).statusCode, 201)
      await rating() // cached between writes: each write must invalidate it
    }
    assert.deepEqual(await rating(), { productId: p.id, count: 3, average: 4.33, histogram: { 1: 0, 2: 0, 3: 0, 4: 2, 5: 1 } })
  })

  it('pages newest first with a cursor; the author sees their review at once', async () => {
    const p = product()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const user = uid('pager')
      await h.buy(user, p.sku)
      const res = await h.post(p.id, user, { rating: 3, body: `${text} #${i}` })
      ids.unshift(res.json().review.id)
      // The author's own read (cached first page, invalidated after the commit) already shows it.
      const mine = (await h.get(`/products/${p.id}/reviews`, user)).json().reviews.map((r: { id: string }) => r.id)
      assert.equal(mine[0], ids[0], `round ${i}: ${JSON.stringify(mine)} ${JSON.stringify(ids)}`)
    }
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      assert.ok(++pages <= 10)
      const res = await h.get(`/products/${p.id}/reviews?limit=2${cursor ? `&cursor=${cursor}` : ''}`, 'reader')
      assert.equal(res.statusCode, 200, res.body)
      seen.push(...res.json().reviews.map((r: { id: string }) => r.id))
      cursor = res.json().nextCursor
    } while (cursor)
    assert.deepEqual(seen, ids)
    assert.equal(pages, 3)
  })

  it('the catalog down: a review write answers 503 with Retry-After, nothing stored', async () => {
    const p = product()
    await h.buy('frank', p.sku)
    const before = await h.snapshot()
    h.setCatalogUp(false)
    try {
      const res = await h.post(p.id, 'frank', { rating: 5, body: text })
      assertProblem(res, 503, 'REVIEW_ERR_CATALOG_UNAVAILABLE')
      assert.equal(res.headers['retry-after'], '1')
    } finally {
      h.setCatalogUp(true)
    }
    assert.deepEqual(await h.snapshot(), before)
  })

  it('bad input (ids, paging, rating range, text length) answers 400 problem+json and changes nothing', async () => {
    const p = product()
    await h.buy('gina', p.sku)
    const before = await h.snapshot()
    const bodies = [
      { rating: 0, body: text },
      { rating: 6, body: text },
      { rating: 2.5, body: text },
      { rating: 'five', body: text },
      { body: text },
      { rating: 3 },
      { rating: 3, body: 'too short' },
      { rating: 3, body: `   ${'x'}        ` },
      { rating: 3, body: 'x'.repeat(2001) },
      { rating: 3, body: text, title: 't'.repeat(121) },
      { rating: 3, body: text, userId: 'someone-else' },
    ]
    for (const payload of bodies) assertProblem(await h.post(p.id, 'gina', payload), 400, 'VALIDATION_FAILED')
    assertProblem(await h.post('bad%20id', 'gina', { rating: 3, body: text }), 400, 'VALIDATION_FAILED')
    assertProblem(await h.post('{x}', 'gina', { rating: 3, body: text }), 400, 'VALIDATION_FAILED')
    for (const q of ['limit=0', 'limit=51', 'limit=x', 'cursor=abc', 'cursor=0', 'cursor=-1', 'sort=rating']) {
      assertProblem(await h.get(`/products/${p.id}/reviews?${q}`), 400, 'VALIDATION_FAILED')
    }
    assertProblem(await h.get('/products/bad%20id/rating'), 400, 'VALIDATION_FAILED')
    assert.deepEqual(await h.snapshot(), before)
    // And the valid one still goes through afterwards.
    assert.equal((await h.post(p.id, 'gina', { rating: 3, body: text })).statusCode, 201)
  })
})
