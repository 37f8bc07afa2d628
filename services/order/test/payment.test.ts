import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createStatusCache } from '../src/store/redis-stores.ts'
import { createOrderHarness, type OrderHarness } from './helpers.ts'

describe('POST /orders/:id/pay (real inventory, Redis, Kafka, PostgreSQL)', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('pay')
    await h.startWorker()
  })
  after(() => h?.close())

  async function confirmedOrder(userId: string, sku: string, qty = 1): Promise<string> {
    const placed = await h.placeOrder(userId, { sku, qty })
    assert.equal(placed.statusCode, 202, placed.body)
    const orderId = placed.json().orderId as string
    await h.eventually(
      async () => (await h.db.query('SELECT 1 FROM orders.orders WHERE id = $1 AND status = $2', [orderId, 'confirmed'])).rowCount === 1,
      'the order confirmed',
    )
    return orderId
  }

  it('the buyer pays a confirmed order inside its window: 200 paid, one payment row, the gate reservation confirmed, `paid` published; a repeat answers the same', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 5 })
    const orderId = await confirmedOrder('payer-1', sku, 2)

    const first = await h.as('payer-1', { method: 'POST', url: `/orders/${orderId}/pay` })
    assert.equal(first.statusCode, 200, first.body)
    assert.equal(first.json().status, 'paid')
    assert.match(first.json().paymentReference, /^sim_/)

    const again = await h.as('payer-1', { method: 'POST', url: `/orders/${orderId}/pay` })
    assert.equal(again.statusCode, 200)
    assert.deepEqual(again.json(), first.json(), 'the same answer on repeat')
    assert.equal(again.headers['idempotent-replayed'], 'true')

    const { rows } = await h.db.query<{ status: string; payments: number; pending: Date | null }>(
      `SELECT o.status, (SELECT count(*)::int FROM orders.payments p WHERE p.order_id = o.id) AS payments, o.effects_pending_since AS pending
         FROM orders.orders o WHERE o.id = $1`,
      [orderId],
    )
    assert.deepEqual(rows[0], { status: 'paid', payments: 1, pending: null }, 'paid, one payment, follow-up done')
    assert.equal((await h.reservation(orderId))?.state, 'confirmed', 'the reservation no longer expires')
    assert.deepEqual(await h.ledger(saleId), { total: 5, sold: 2 }, 'paying takes no more stock')
    const status = await h.as('payer-1', { url: `/orders/${orderId}` })
    assert.equal(status.json().status, 'paid', 'the status cache says paid')
    const events = (await h.readTopic(h.topics.names.ordersEvents)).map((m) => JSON.parse(m.value.toString()) as { orderId: string; status: string })
    assert.ok(
      events.some((e) => e.orderId === orderId && e.status === 'paid'),
      'orders.events has `paid`',
    )
  })

  it('past reservation_expires_at answers 409 ORDER_ERR_PAYMENT_WINDOW_CLOSED and changes nothing', async () => {
    const { sku } = await h.createSale()
    const orderId = await confirmedOrder('late-payer', sku)
    await h.db.query(`UPDATE orders.orders SET reservation_expires_at = now() - interval '1 second' WHERE id = $1`, [orderId])
    const res = await h.as('late-payer', { method: 'POST', url: `/orders/${orderId}/pay` })
    assert.equal(res.statusCode, 409, res.body)
    assert.equal(res.json().code, 'ORDER_ERR_PAYMENT_WINDOW_CLOSED')
    const { rows } = await h.db.query('SELECT status FROM orders.orders WHERE id = $1', [orderId])
    assert.equal(rows[0]?.status, 'confirmed')
    assert.equal((await h.db.query('SELECT 1 FROM orders.payments WHERE order_id = $1', [orderId])).rowCount, 0)
    assert.equal((await h.reservation(orderId))?.state, 'committed', 'the gate was not told to confirm')
  })

  it('only the buyer can pay (another user gets 404); a rejected order, a cancelled one, and one still in the queue get 409 ORDER_ERR_NOT_PAYABLE', async () => {
    const { sku } = await h.createSale({ totalUnits: 5 })
    const orderId = await confirmedOrder('owner-2', sku)
    const stranger = await h.as('thief', { method: 'POST', url: `/orders/${orderId}/pay` })
    assert.equal(stranger.statusCode, 404)
    assert.equal(stranger.json().code, 'ORDER_ERR_NOT_FOUND')
    assert.equal((await h.as('thief', { method: 'POST', url: `/orders/${randomUUID()}/pay` })).statusCode, 404)

    for (const status of ['rejected', 'cancelled']) {
      await h.db.query('UPDATE orders.orders SET status = $2, reason = $3 WHERE id = $1', [orderId, status, 'test'])
      const res = await h.as('owner-2', { method: 'POST', url: `/orders/${orderId}/pay` })
      assert.equal(res.statusCode, 409, `${status}: ${res.body}`)
      assert.equal(res.json().code, 'ORDER_ERR_NOT_PAYABLE', status)
      assert.equal(res.json().orderStatus, status)
    }
    assert.equal((await h.db.query('SELECT 1 FROM orders.payments WHERE order_id = $1', [orderId])).rowCount, 0)

    // Accepted (202) but not yet persisted: only the status cache knows it, as pending.
    const queued = randomUUID()
    await createStatusCache(h.redis, { ttlSeconds: 60 }).put({
      orderId: queued,
      userId: 'owner-2',
      saleId: 's',
      sku,
      qty: 1,
      status: 'pending',
      reservationExpiresAt: new Date(Date.now() + 60_000).toISOString(),
      requestedAt: new Date().toISOString(),
    })
    const pending = await h.as('owner-2', { method: 'POST', url: `/orders/${queued}/pay` })
    assert.equal(pending.statusCode, 409)
    assert.equal(pending.json().code, 'ORDER_ERR_NOT_PAYABLE')
    assert.equal(pending.json().orderStatus, 'pending')
    assert.ok(Number(pending.headers['retry-after']) >= 1, 'worth retrying')
  })

  it('refuses a bad order id with 400 and no token with 401', async () => {
    assert.equal((await h.as('x', { method: 'POST', url: '/orders/not-a-uuid/pay' })).json().code, 'VALIDATION_FAILED')
    assert.equal((await h.app.inject({ method: 'POST', url: `/orders/${randomUUID()}/pay` })).statusCode, 401)
  })
})
