import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sweepUnpaidOrders } from '../../src/domain/sweep-unpaid-orders.ts'
import { createOrderLifecycleStore } from '../../src/store/order-lifecycle-store.ts'
import { createOrderHarness, type OrderHarness } from '../helpers.ts'

describe('the payment-timeout sweeper (real inventory, Redis, Kafka, PostgreSQL)', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('sweeper')
    await h.startWorker()
  })
  after(() => h?.close())

  async function placeConfirmed(sku: string, buyers: string[], qty: number): Promise<Map<string, string>> {
    const ids = new Map<string, string>()
    for (const buyer of buyers) {
      const res = await h.placeOrder(buyer, { sku, qty })
      assert.equal(res.statusCode, 202, res.body)
      ids.set(buyer, res.json().orderId as string)
    }
    await h.eventually(
      async () =>
        (await h.db.query(`SELECT 1 FROM orders.orders WHERE id = ANY($1::uuid[]) AND status = 'confirmed'`, [[...ids.values()]])).rowCount === ids.size,
      'the orders confirmed',
    )
    return ids
  }

  const userUnits = async (saleId: string) =>
    Object.fromEntries(
      (await h.db.query<{ user_id: string; units: number }>('SELECT user_id, units FROM inventory.user_units WHERE sale_id = $1', [saleId])).rows.map((r) => [
        r.user_id,
        r.units,
      ]),
    )

  it('two sweepers at once cancel each unpaid order past its window exactly once, returning its units once to Postgres and to the gate; paid orders are never cancelled', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 20, perUserLimit: 2 })
    const buyers = Array.from({ length: 8 }, (_, i) => `sweep-buyer-${i}`)
    const ids = await placeConfirmed(sku, buyers, 2)
    const payers = buyers.slice(0, 2)
    for (const p of payers) assert.equal((await h.as(p, { method: 'POST', url: `/orders/${ids.get(p)}/pay` })).statusCode, 200)
    assert.deepEqual(await h.ledger(saleId), { total: 20, sold: 16 })
    assert.equal(await h.gateAvailable(saleId), 4)

    // Every window has passed, the paid orders' too.
    await h.db.query(`UPDATE orders.orders SET reservation_expires_at = now() - interval '1 minute' WHERE sale_id = $1`, [saleId])
    const one = h.sweepDeps({ batchSize: 2 })
    const two = h.sweepDeps({ batchSize: 2 })
    const [a, b] = await Promise.all([sweepUnpaidOrders(one), sweepUnpaidOrders(two)])
    const cancelled = [...a.cancelled, ...b.cancelled].map((o) => o.orderId)
    const unpaid = buyers.slice(2).map((u) => ids.get(u)!)
    assert.equal(cancelled.length, 6, `each unpaid order cancelled once by one sweeper (${a.cancelled.length} + ${b.cancelled.length})`)
    assert.deepEqual(new Set(cancelled), new Set(unpaid))

    const after1 = { ledger: await h.ledger(saleId), gate: await h.gateAvailable(saleId), users: await userUnits(saleId) }
    assert.deepEqual(after1.ledger, { total: 20, sold: 4 }, 'Postgres got 12 units back, once')
    assert.equal(after1.gate, 16, 'the gate got 12 units back, once')
    for (const u of payers) assert.equal(after1.users[u], 2)
    for (const u of buyers.slice(2)) assert.equal(after1.users[u] ?? 0, 0, `${u}'s count is back to 0`)

    const { rows } = await h.db.query<{ id: string; status: string; reason: string | null }>(
      'SELECT id, status, reason FROM orders.orders WHERE sale_id = $1',
      [saleId],
    )
    for (const r of rows) {
      if (unpaid.includes(r.id)) assert.deepEqual([r.status, r.reason], ['cancelled', 'payment_timeout'])
      else assert.equal(r.status, 'paid')
    }
    for (const id of unpaid) assert.equal((await h.reservation(id))?.state, 'released')

    // More passes, both sweepers again: nothing moves.
    await Promise.all([sweepUnpaidOrders(one), sweepUnpaidOrders(two), sweepUnpaidOrders(one)])
    assert.deepEqual({ ledger: await h.ledger(saleId), gate: await h.gateAvailable(saleId), users: await userUnits(saleId) }, after1)

    const status = await h.as(buyers[5]!, { url: `/orders/${ids.get(buyers[5]!)}` })
    assert.equal(status.json().status, 'cancelled')
    const events = (await h.readTopic(h.topics.names.ordersEvents)).map((m) => JSON.parse(m.value.toString()) as { orderId: string; status: string })
    for (const id of unpaid)
      assert.ok(
        events.some((e) => e.orderId === id && e.status === 'cancelled'),
        `cancelled published for ${id}`,
      )
    assert.ok(
      !events.some((e) => e.status === 'cancelled' && !unpaid.includes(e.orderId) && [...ids.values()].includes(e.orderId)),
      'no paid order published as cancelled',
    )
  })

  it('an order inside its window is left alone', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 3 })
    await placeConfirmed(sku, ['patient'], 1)
    const { cancelled } = await sweepUnpaidOrders(h.sweepDeps())
    assert.ok(!cancelled.some((o) => o.saleId === saleId))
    assert.deepEqual(await h.ledger(saleId), { total: 3, sold: 1 })
  })

  it('a cancellation whose follow-up never ran (the process died after COMMIT) is finished by a later pass: the gate gets the units back once', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 4, perUserLimit: 4 })
    const ids = await placeConfirmed(sku, ['crashed'], 3)
    await h.db.query(`UPDATE orders.orders SET reservation_expires_at = now() - interval '1 minute' WHERE sale_id = $1`, [saleId])
    // The transaction alone, as if the sweeper died right after it.
    const cancelled = await createOrderLifecycleStore(h.db).cancelExpired(10)
    assert.deepEqual(
      cancelled.map((o) => o.orderId),
      [ids.get('crashed')],
    )
    assert.deepEqual(await h.ledger(saleId), { total: 4, sold: 0 }, 'Postgres has the units back')
    assert.equal(await h.gateAvailable(saleId), 1, 'the gate does not, yet')

    const pass = await sweepUnpaidOrders(h.sweepDeps({ followUpAfterMs: 0 }))
    assert.equal(pass.followedUp, 1)
    assert.equal(await h.gateAvailable(saleId), 4)
    await sweepUnpaidOrders(h.sweepDeps({ followUpAfterMs: 0 }))
    assert.equal(await h.gateAvailable(saleId), 4, 'released once')
    const { rows } = await h.db.query('SELECT effects_pending_since FROM orders.orders WHERE id = $1', [ids.get('crashed')])
    assert.equal(rows[0]?.effects_pending_since, null)
  })
})
