import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { encodeCursor } from '../src/domain/list-orders.ts'
import { createOrderHarness, type OrderHarness } from './helpers.ts'

describe('GET /users/me/orders (real replicas, PostgreSQL, Kafka)', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('history')
    await h.startWorker()
  })
  after(() => h?.close())

  it("pages the buyer's own orders newest first by keyset cursor: every order exactly once, none of anyone else's", async () => {
    const { sku } = await h.createSale({ totalUnits: 50, perUserLimit: 10 })
    const mine: string[] = []
    // In groups placed at once: orders of one worker batch share created_at, which the cursor must handle.
    for (const size of [3, 3, 1]) {
      const group = await Promise.all(Array.from({ length: size }, () => h.placeOrder('historian', { sku, qty: 1 })))
      mine.push(...group.map((r) => r.json().orderId as string))
    }
    assert.equal(mine.length, 7)
    assert.equal((await h.placeOrder('neighbour', { sku, qty: 1 })).statusCode, 202)

    // History reads a replica: wait until it has replayed every order.
    await h.eventually(async () => (await h.as('historian', { url: '/users/me/orders?limit=100' })).json().orders.length === 7, 'seven orders on the replica')

    const pageThrough = async () => {
      const seen: { orderId: string; createdAt: string }[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const res = await h.as('historian', { url: `/users/me/orders?limit=3${cursor ? `&cursor=${cursor}` : ''}` })
        assert.equal(res.statusCode, 200, res.body)
        const body = res.json() as { orders: { orderId: string; createdAt: string; userId?: string }[]; nextCursor: string | null }
        assert.ok(body.orders.length <= 3)
        assert.ok(
          body.orders.every((o) => o.userId === undefined),
          'the owner is not echoed',
        )
        seen.push(...body.orders)
        cursor = body.nextCursor
        pages++
      } while (cursor && pages < 10)
      return { seen, pages }
    }
    const { seen, pages } = await pageThrough()
    assert.equal(pages, 3, 'pages of 3, 3 and 1')
    assert.deepEqual(seen.map((o) => o.orderId).sort(), [...mine].sort(), 'each order once, and only mine')
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]!.createdAt >= seen[i]!.createdAt, 'newest first')

    // Every order in one worker batch shares the transaction's created_at: the id breaks the tie.
    await h.db.query(`UPDATE orders.orders SET created_at = '2030-01-01T00:00:00.123456Z' WHERE user_id = 'historian'`)
    await h.eventually(
      async () => (await h.as('historian', { url: '/users/me/orders?limit=1' })).json().orders[0]?.createdAt === '2030-01-01T00:00:00.123456Z',
      'the replica to replay the update',
    )
    const tied = await pageThrough()
    assert.equal(tied.pages, 3)
    assert.deepEqual(
      tied.seen.map((o) => o.orderId),
      [...mine].sort(),
      'each order once, by id within one created_at',
    )
  })

  it('bad paging answers 400 problem+json', async () => {
    const junk = Buffer.from('["yesterday","not-a-uuid"]').toString('base64url')
    const cases: [string, string, string][] = [
      ['limit 0', '/users/me/orders?limit=0', 'VALIDATION_FAILED'],
      ['limit above the bound', '/users/me/orders?limit=101', 'VALIDATION_FAILED'],
      ['limit not a number', '/users/me/orders?limit=lots', 'VALIDATION_FAILED'],
      ['an unknown parameter', '/users/me/orders?offset=10', 'VALIDATION_FAILED'],
      ['a cursor with bad characters', '/users/me/orders?cursor=%24%24%24', 'VALIDATION_FAILED'],
      ['a cursor we did not make', `/users/me/orders?cursor=${junk}`, 'ORDER_ERR_BAD_CURSOR'],
      ['a cursor that is not JSON', '/users/me/orders?cursor=bm90LWpzb24', 'ORDER_ERR_BAD_CURSOR'],
    ]
    for (const [what, url, code] of cases) {
      const res = await h.as('historian', { url })
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`)
      assert.match(String(res.headers['content-type']), /application\/problem\+json/)
      assert.equal(res.json().code, code, what)
    }
    const fine = encodeCursor({ createdAt: '2020-01-01T00:00:00.000000Z', id: '00000000-0000-7000-8000-000000000000' })
    assert.equal((await h.as('historian', { url: `/users/me/orders?cursor=${fine}` })).statusCode, 200, 'a well-formed cursor is accepted')
    assert.equal((await h.app.inject({ url: '/users/me/orders' })).statusCode, 401)
  })
})
