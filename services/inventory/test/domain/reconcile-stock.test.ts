import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { withTransaction } from '@flashsale/db'
import { createGateStore, saleKeys } from '../../src/store/gate-store.ts'
import { liveReservations, startHarness, uid, type Harness } from '../helpers.ts'

let h: Harness
let admin: { authorization: string }
before(async () => {
  // Quiet after 5 s without gate activity: the tests move the clock to get there.
  h = await startHarness('reconcile', { env: { RECONCILE_QUIET_MS: '5000', REBUILD_STALE_MS: '15000' } })
  admin = { authorization: `Bearer ${await h.adminToken()}` }
})
after(() => h.close())

/** What the order worker does for one order: claim, persist in its own transaction, then commit. */
async function persistOrder(saleId: string, orderId: string, userId: string, qty: number): Promise<number> {
  const step = (name: string) => h.app.inject({ method: 'POST', url: `/admin/reservations/${name}`, headers: admin, payload: { orderIds: [orderId] } })
  await step('claim')
  const remaining = await withTransaction(h.db.primary, async (tx) => {
    const { rows } = await tx.query<{ r: number }>('SELECT inventory.commit_units($1, $2, $3) AS r', [saleId, qty, userId])
    return rows[0]?.r ?? -99
  })
  await step('commit')
  return remaining
}

const reconcile = async () => {
  const res = await h.app.inject({ method: 'POST', url: '/admin/reconcile', headers: admin })
  assert.equal(res.statusCode, 200, res.body)
  return res.json().sales as Record<string, unknown>[]
}
const findingFor = async (saleId: string) => (await reconcile()).find((s) => s['saleId'] === saleId) as Record<string, unknown>

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = await h.metrics.registry.getSingleMetric(name)?.get()
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value
}

/** available (Redis) + units of unpersisted reservations (Redis) + sold (Postgres) — must equal the total. */
async function accounted(saleId: string) {
  const gate = await h.gate(saleId)
  const ledger = await h.ledger(saleId)
  return { sum: (gate.available ?? 0) + liveReservations(gate).unpersisted + ledger.sold, total: ledger.total }
}

describe('Redis loss', () => {
  it('after the sale keys are flushed mid-sale the gate refuses with 503 until the rebuild; afterwards available + reserved + sold == total and buyer limits hold', async () => {
    const saleId = await h.createSale({ totalUnits: 20, perUserLimit: 5 })
    const orders = { a: uid('a'), b: uid('b'), c: uid('c') }
    assert.equal((await h.reserve('buyer-a', { saleId, orderId: orders.a, qty: 2 })).statusCode, 201)
    assert.equal((await h.reserve('buyer-b', { saleId, orderId: orders.b, qty: 3 })).statusCode, 201)
    assert.equal((await h.reserve('buyer-c', { saleId, orderId: orders.c, qty: 1 })).statusCode, 201)
    assert.equal(await persistOrder(saleId, orders.a, 'buyer-a', 2), 18)
    assert.equal(await persistOrder(saleId, orders.b, 'buyer-b', 3), 15)
    assert.deepEqual(await accounted(saleId), { sum: 20, total: 20 })

    // Redis loses everything (FLUSHALL, or a restart without persistence) — here: every key of this suite,
    // because other suites share the server.
    await h.flushSuiteKeys()

    for (let i = 0; i < 3; i++) {
      const refused = await h.reserve('buyer-d', { saleId, orderId: uid('d'), qty: 1 })
      assert.equal(refused.statusCode, 503, refused.body)
      assert.equal(refused.json().code, 'INVENTORY_ERR_GATE_UNAVAILABLE')
      assert.equal(refused.json().reason, 'missing')
      assert.equal(refused.headers['retry-after'], '1')
    }
    // GET /sales/:id reads a replica (anonymous readers get no read-your-own-writes): let them have the sale.
    await h.testDb.replicated()
    const view = await h.app.inject({ method: 'GET', url: `/sales/${saleId}` })
    assert.equal(view.json().status, 'unavailable')
    assert.equal(view.json().approximateAvailable, null)

    const rebuilt = await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/rebuild`, headers: admin })
    assert.equal(rebuilt.statusCode, 200, rebuilt.body)
    assert.equal(rebuilt.json().status, 'rebuilt')
    assert.equal(rebuilt.json().available, 15, 'total 20 − sold 5; the unpersisted reservation of c died with Redis')
    assert.deepEqual(await accounted(saleId), { sum: 20, total: 20 })

    // Per-buyer counts come back from inventory.user_units: b holds 3 of 5.
    assert.equal((await h.reserve('buyer-b', { saleId, orderId: uid('b2'), qty: 3 })).json().code, 'INVENTORY_ERR_LIMIT_REACHED')
    assert.equal((await h.reserve('buyer-b', { saleId, orderId: uid('b3'), qty: 2 })).statusCode, 201)
    assert.equal((await h.reserve('buyer-d', { saleId, orderId: uid('d'), qty: 1 })).statusCode, 201)
    assert.deepEqual(await accounted(saleId), { sum: 20, total: 20 })

    // The lost reservation: the worker's claim says not_found, so Postgres (commit_units) decides.
    const claim = await h.app.inject({ method: 'POST', url: '/admin/reservations/claim', headers: admin, payload: { orderIds: [orders.c] } })
    assert.equal(claim.json().results[0].outcome, 'not_found')
  })

  it('the reconciler rebuilds a lost gate on its own pass', async () => {
    const saleId = await h.createSale({ totalUnits: 7 })
    assert.equal((await h.reserve('r1', { saleId, orderId: uid('r'), qty: 1 })).statusCode, 201)
    await h.flushSuiteKeys()
    assert.equal((await h.reserve('r2', { saleId, orderId: uid('r'), qty: 1 })).statusCode, 503)
    const finding = await findingFor(saleId)
    assert.equal(finding['action'], 'rebuilt')
    assert.equal((await h.reserve('r2', { saleId, orderId: uid('r'), qty: 1 })).statusCode, 201)
    assert.equal((await h.gate(saleId)).available, 6)
    assert.ok(((await metric('inventory_gate_rebuilds_total', { sale_id: saleId })) ?? 0) >= 1)
  })

  it('while a rebuild holds the gate it answers 503 rebuilding; a rebuild whose process died is taken over once stale', async () => {
    const saleId = await h.createSale({ totalUnits: 4 })
    const gate = createGateStore(h.redis, { indexTtlMs: 60_000 })
    // A rebuild that began and never finished (its process was killed).
    assert.equal((await gate.beginRebuild(saleId, 'dead-process', h.clock.now(), 15_000, false)).status, 'begun')
    const refused = await h.reserve('w', { saleId, orderId: uid('w'), qty: 1 })
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.json().reason, 'rebuilding')

    assert.equal((await findingFor(saleId))['action'], 'rebuilding', 'a young rebuild is left alone')
    assert.equal((await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/rebuild`, headers: admin })).statusCode, 409)

    h.clock.advance(20_000)
    try {
      assert.equal((await findingFor(saleId))['action'], 'rebuilt')
    } finally {
      h.clock.advance(-20_000)
    }
    assert.equal((await h.reserve('w', { saleId, orderId: uid('w'), qty: 1 })).statusCode, 201)
  })
})

describe('drift', () => {
  it('the reconciler reports injected drift while the sale is busy, and repairs it once the sale is quiet', async () => {
    const saleId = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    const persisted = uid('p')
    await h.reserve('d1', { saleId, orderId: persisted, qty: 3 })
    await h.reserve('d2', { saleId, orderId: uid('u'), qty: 2 })
    await persistOrder(saleId, persisted, 'd1', 3)
    // expected = total 10 − sold 3 − unpersisted 2 = 5. Inject +4.
    await h.redis.incrby(saleKeys(saleId)[1] as string, 4)

    const busy = await findingFor(saleId)
    assert.equal(busy['expected'], 5)
    assert.equal(busy['drift'], 4)
    assert.equal(busy['repaired'], false, 'gate activity within the quiet window: report, do not touch')
    assert.equal(await metric('inventory_stock_drift_units', { sale_id: saleId }), 4)
    // The ledger as PostgreSQL has it, for the ops page's oversold check (sold > total would be one).
    assert.equal(await metric('inventory_ledger_units', { sale_id: saleId, kind: 'total' }), 10)
    assert.equal(await metric('inventory_ledger_units', { sale_id: saleId, kind: 'sold' }), 3)
    assert.equal((await h.gate(saleId)).available, 9)

    h.clock.advance(6_000)
    try {
      const quiet = await findingFor(saleId)
      assert.equal(quiet['repaired'], true)
      assert.equal((await h.gate(saleId)).available, 5)
      assert.equal(await metric('inventory_stock_drift_units', { sale_id: saleId }), 0)
      assert.equal(await metric('inventory_stock_drift_repairs_total', { sale_id: saleId }), 1)
      assert.equal((await findingFor(saleId))['drift'], 0)
    } finally {
      h.clock.advance(-6_000)
    }
    assert.deepEqual(await accounted(saleId), { sum: 10, total: 10 })
  })

  it('a paused sale is repaired at once, also when the gate had handed out too few units', async () => {
    const saleId = await h.createSale({ totalUnits: 6 })
    await h.reserve('z', { saleId, orderId: uid('z'), qty: 1 })
    await h.redis.set(saleKeys(saleId)[1] as string, 2) // expected 5
    assert.equal((await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/pause`, headers: admin })).statusCode, 200)
    const finding = await findingFor(saleId)
    assert.equal(finding['drift'], -3)
    assert.equal(finding['repaired'], true)
    assert.equal((await h.gate(saleId)).available, 5)
  })
})

describe('a cancelled order whose release is still pending (found when the gate read 400 available for a 200-unit sale)', () => {
  // The payment-timeout sweeper cancels an order in Postgres and returns its units to the ledger in the same
  // transaction (inventory.return_units), then releases the reservation at the gate. When Redis is down at that
  // moment the release waits for a follow-up, and meanwhile the reconciler (or a rebuild) sees `sold` already
  // lowered while the reservation is still live in Redis. Counting that unit as available AND giving it back
  // again at the follow-up's release hands it out twice.
  async function cancelledPendingRelease(totalUnits: number) {
    const saleId = await h.createSale({ totalUnits, perUserLimit: 1 })
    const orders: string[] = []
    for (let i = 0; i < totalUnits; i++) {
      const orderId = uid('c')
      assert.equal((await h.reserve(`buyer-${i}`, { saleId, orderId, qty: 1 })).statusCode, 201)
      await persistOrder(saleId, orderId, `buyer-${i}`, 1)
      orders.push(orderId)
    }
    // The sweeper's transaction for half of them, whose gate releases then fail (Redis was down).
    const cancelled = orders.slice(0, totalUnits / 2)
    await withTransaction(h.db.primary, async (tx) => {
      for (let i = 0; i < cancelled.length; i++) await tx.query('SELECT inventory.return_units($1, 1, $2)', [saleId, `buyer-${i}`])
    })
    return { saleId, cancelled }
  }
  const releaseAll = async (orderIds: readonly string[]) => {
    for (const orderId of orderIds) {
      const res = await h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers: admin })
      assert.equal(res.statusCode, 200, res.body)
    }
  }

  it('the reconciler, once the sale is quiet, leaves the units to the pending releases: each comes back exactly once', async () => {
    const { saleId, cancelled } = await cancelledPendingRelease(10)
    h.clock.advance(6_000)
    try {
      const finding = await findingFor(saleId)
      assert.equal(finding['expected'], 0, 'the 5 cancelled units are still held by live reservations')
      assert.equal((await h.gate(saleId)).available, 0)
    } finally {
      h.clock.advance(-6_000)
    }
    await releaseAll(cancelled) // the follow-ups
    assert.equal((await h.gate(saleId)).available, 5, 'each cancelled unit back once, not twice')
    h.clock.advance(6_000)
    try {
      assert.equal((await findingFor(saleId))['drift'], 0)
    } finally {
      h.clock.advance(-6_000)
    }
  })

  it('a rebuild of the gate does the same', async () => {
    const { saleId, cancelled } = await cancelledPendingRelease(10)
    const rebuilt = await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/rebuild`, headers: admin })
    assert.equal(rebuilt.statusCode, 200, rebuilt.body)
    assert.equal(rebuilt.json().available, 0, 'the cancelled units are still held by live reservations')
    await releaseAll(cancelled)
    assert.equal((await h.gate(saleId)).available, 5)
  })
})

describe('reservation TTL', () => {
  it('a reservation never claimed by the worker expires after its TTL: units back, and a late claim is told expired', async () => {
    const saleId = await h.createSale({ totalUnits: 3, reservationTtlSeconds: 60 })
    const stale = uid('ttl')
    const claimed = uid('ttl-claimed')
    await h.reserve('t', { saleId, orderId: stale, qty: 1 })
    await h.reserve('t', { saleId, orderId: claimed, qty: 1 })
    await h.app.inject({ method: 'POST', url: '/admin/reservations/claim', headers: admin, payload: { orderIds: [claimed] } })

    assert.equal((await findingFor(saleId))['expired'], 0)
    h.clock.advance(61_000)
    try {
      assert.equal((await findingFor(saleId))['expired'], 1, 'only the unclaimed one')
    } finally {
      h.clock.advance(-61_000)
    }
    const gate = await h.gate(saleId)
    assert.equal(gate.available, 2)
    assert.equal(gate.users['t'], 1)
    const late = await h.app.inject({ method: 'POST', url: '/admin/reservations/claim', headers: admin, payload: { orderIds: [stale] } })
    assert.equal(late.json().results[0].outcome, 'expired')
  })
})

describe('sale window', () => {
  it('the reconciler moves a sale scheduled → active at its start and → closed at its end', async () => {
    const now = h.clock.now()
    const saleId = await h.createSale({ startsAt: new Date(now + 10_000).toISOString(), endsAt: new Date(now + 20_000).toISOString() })
    const state = async () => (await h.db.query<{ state: string }>('SELECT state FROM inventory.sales WHERE id = $1', [saleId])).rows[0]?.state
    await reconcile()
    assert.equal(await state(), 'scheduled')
    h.clock.advance(11_000)
    try {
      assert.deepEqual((await findingFor(saleId))['transitioned'], { from: 'scheduled', to: 'active' })
      assert.equal(await state(), 'active')
      h.clock.advance(10_000)
      assert.deepEqual((await findingFor(saleId))['transitioned'], { from: 'active', to: 'closed' })
      assert.equal(await state(), 'closed')
      assert.equal((await h.gate(saleId)).meta['state'], 'closed')
    } finally {
      h.clock.advance(-21_000)
    }
    // Closed for good, whatever the clock says now.
    assert.equal((await h.reserve('late', { saleId, orderId: uid('l'), qty: 1 })).json().code, 'INVENTORY_ERR_CLOSED')
  })
})
