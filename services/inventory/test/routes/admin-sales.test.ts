import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { startHarness, uid, type Harness } from '../helpers.ts'

let h: Harness
let admin: Record<string, string>
let buyer: Record<string, string>
let saleId: string
before(async () => {
  h = await startHarness('admin')
  admin = { authorization: `Bearer ${await h.adminToken()}` }
  buyer = { authorization: `Bearer ${await h.buyerToken('just-a-buyer')}` }
  saleId = await h.createSale({ totalUnits: 10, perUserLimit: 2 })
})
after(() => h.close())

/** Everything the service owns: rows in Postgres and keys in Redis (this suite's prefix). */
async function everything() {
  const sales = await h.db.query('SELECT * FROM inventory.sales ORDER BY id')
  const stock = await h.db.query('SELECT * FROM inventory.stock ORDER BY sale_id')
  const keys = (await h.redis.keys(`${h.prefix}*`).then((ks) => ks.sort())) as string[]
  const redisState: Record<string, unknown> = {}
  for (const key of keys) {
    const k = key.slice(h.prefix.length)
    const type = await h.redis.type(k)
    redisState[k] = type === 'hash' ? await h.redis.hgetall(k) : type === 'string' ? await h.redis.get(k) : await h.redis.zrange(k, 0, -1, 'WITHSCORES')
  }
  return { sales: sales.rows, stock: stock.rows, redis: redisState }
}

const adminRoutes = () => [
  {
    method: 'POST' as const,
    url: '/admin/sales',
    payload: { sku: 'X', totalUnits: 1, perUserLimit: 1, startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-01-02T00:00:00Z' },
  },
  { method: 'PATCH' as const, url: `/admin/sales/${saleId}`, payload: { title: 'renamed' } },
  { method: 'POST' as const, url: `/admin/sales/${saleId}/pause` },
  { method: 'POST' as const, url: `/admin/sales/${saleId}/resume` },
  { method: 'POST' as const, url: `/admin/sales/${saleId}/rebuild` },
  { method: 'POST' as const, url: '/admin/reconcile' },
  { method: 'POST' as const, url: '/admin/reservations/claim', payload: { orderIds: ['o-1'] } },
  { method: 'POST' as const, url: '/admin/reservations/commit', payload: { orderIds: ['o-1'] } },
  { method: 'POST' as const, url: '/admin/reservations/confirm', payload: { orderIds: ['o-1'] } },
]

describe('admin routes need an admin', () => {
  for (const route of [
    '/admin/sales',
    '/admin/sales/:id',
    '/admin/sales/:id/pause',
    '/admin/sales/:id/resume',
    '/admin/sales/:id/rebuild',
    '/admin/reconcile',
    '/admin/reservations/claim',
    '/admin/reservations/commit',
    '/admin/reservations/confirm',
  ]) {
    it(`${route}: 401 without a token, 403 for a buyer, and nothing changes`, async () => {
      const r = adminRoutes().find((x) => x.url.replace(saleId, ':id') === route)
      assert.ok(r)
      const before = await everything()
      const anonymous = await h.app.inject({ ...r })
      assert.equal(anonymous.statusCode, 401, anonymous.body)
      assert.equal(anonymous.json().code, 'AUTH_ERR_UNAUTHENTICATED')
      const asBuyer = await h.app.inject({ ...r, headers: buyer })
      assert.equal(asBuyer.statusCode, 403, asBuyer.body)
      assert.equal(asBuyer.json().code, 'AUTH_ERR_FORBIDDEN')
      assert.deepEqual(await everything(), before)
    })
  }
})

describe('POST /admin/sales', () => {
  it('creates the sale and its ledger row, and warms the gate (available = total)', async () => {
    const id = uid('created')
    const res = await h.app.inject({
      method: 'POST',
      url: '/admin/sales',
      headers: admin,
      payload: { id, sku: 'SKU-9', title: 'Nine', totalUnits: 9, perUserLimit: 3, startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-01-02T00:00:00Z' },
    })
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.headers['location'], `/sales/${id}`)
    assert.equal(res.json().gate, 'ready')
    assert.equal(res.json().sale.state, 'scheduled')
    assert.equal(res.json().sale.reservationTtlSeconds, 600)
    assert.deepEqual(await h.ledger(id), { total: 9, sold: 0 })
    const gate = await h.gate(id)
    assert.equal(gate.available, 9)
    assert.equal(gate.meta['limit'], '3')
  })

  it('a sale whose window has already begun is created active, in Postgres and in the gate', async () => {
    const id = uid('started')
    const now = Date.now()
    const res = await h.app.inject({
      method: 'POST',
      url: '/admin/sales',
      headers: admin,
      payload: {
        id,
        sku: 'SKU-10',
        totalUnits: 4,
        perUserLimit: 1,
        startsAt: new Date(now - 1_000).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      },
    })
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.json().sale.state, 'active')
    assert.equal((await h.db.query<{ state: string }>('SELECT state FROM inventory.sales WHERE id = $1', [id])).rows[0]?.state, 'active')
    assert.equal((await h.gate(id)).meta['state'], 'active')
  })

  const valid = { sku: 'S', totalUnits: 5, perUserLimit: 1, startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-01-02T00:00:00Z' }
  const bad: { name: string; payload?: unknown; raw?: string; status: number; code?: string }[] = [
    { name: 'missing sku', payload: { ...valid, sku: undefined }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'totalUnits 0', payload: { ...valid, totalUnits: 0 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'perUserLimit -1', payload: { ...valid, perUserLimit: -1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'startsAt not a date', payload: { ...valid, startsAt: 'tomorrow' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'an id with a brace', payload: { ...valid, id: 'x{y}' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'an unknown field', payload: { ...valid, sold: 3 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'a reservation TTL of 1 s', payload: { ...valid, reservationTtlSeconds: 1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'a window that ends before it starts', payload: { ...valid, endsAt: '2029-12-31T00:00:00Z' }, status: 400, code: 'INVENTORY_ERR_INVALID_WINDOW' },
    { name: 'malformed JSON', raw: '{"sku": "S", ', status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
    {
      name: 'an oversized body (over 64 KiB)',
      raw: JSON.stringify({ ...valid, title: 'x'.repeat(70 * 1024) }),
      status: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    },
  ]
  for (const c of bad) {
    it(`${c.name} → ${c.status} ${c.code ?? ''}, nothing created`, async () => {
      const before = await everything()
      const res = await h.app.inject({
        method: 'POST',
        url: '/admin/sales',
        headers: { ...admin, 'content-type': 'application/json' },
        payload: c.raw ?? JSON.stringify(c.payload),
      })
      assert.equal(res.statusCode, c.status, res.body)
      assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/)
      if (c.code) assert.equal(res.json().code, c.code)
      assert.deepEqual(await everything(), before)
    })
  }

  it('an id that exists → 409 INVENTORY_ERR_SALE_EXISTS, the existing sale untouched', async () => {
    const before = await everything()
    const res = await h.app.inject({ method: 'POST', url: '/admin/sales', headers: admin, payload: { ...valid, id: saleId, totalUnits: 1 } })
    assert.equal(res.statusCode, 409)
    assert.equal(res.json().code, 'INVENTORY_ERR_SALE_EXISTS')
    assert.deepEqual(await everything(), before)
  })
})

describe('PATCH /admin/sales/:id', () => {
  it('a larger total moves the gate by the difference, keeping what is reserved', async () => {
    const id = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    await h.reserve('patcher', { saleId: id, orderId: uid('p'), qty: 4 })
    const res = await h.app.inject({ method: 'PATCH', url: `/admin/sales/${id}`, headers: admin, payload: { totalUnits: 15, title: 'more' } })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().sale.totalUnits, 15)
    assert.deepEqual(await h.ledger(id), { total: 15, sold: 0 })
    assert.equal((await h.gate(id)).available, 11)
  })

  it('a total below what is already reserved → 409 INVENTORY_ERR_TOTAL_BELOW_TAKEN, Postgres and Redis unchanged', async () => {
    const id = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    await h.reserve('patcher', { saleId: id, orderId: uid('p'), qty: 5 })
    await h.reserve('patcher2', { saleId: id, orderId: uid('p'), qty: 4 })
    const before = await everything()
    const res = await h.app.inject({ method: 'PATCH', url: `/admin/sales/${id}`, headers: admin, payload: { totalUnits: 8 } })
    assert.equal(res.statusCode, 409, res.body)
    assert.equal(res.json().code, 'INVENTORY_ERR_TOTAL_BELOW_TAKEN')
    assert.deepEqual(await everything(), before)
  })

  for (const c of [
    { name: 'an empty body', payload: {}, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'totalUnits "ten"', payload: { totalUnits: 'ten' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'a window that ends before it starts', payload: { endsAt: '2000-01-01T00:00:00Z' }, status: 400, code: 'INVENTORY_ERR_INVALID_WINDOW' },
    { name: 'an unknown sale', payload: { title: 't' }, status: 404, code: 'INVENTORY_ERR_UNKNOWN_SALE', url: '/admin/sales/no-such-sale' },
  ]) {
    it(`${c.name} → ${c.status} ${c.code}, nothing changed`, async () => {
      const before = await everything()
      const res = await h.app.inject({ method: 'PATCH', url: c.url ?? `/admin/sales/${saleId}`, headers: admin, payload: c.payload })
      assert.equal(res.statusCode, c.status, res.body)
      assert.equal(res.json().code, c.code)
      assert.deepEqual(await everything(), before)
    })
  }
})

describe('pause, resume, rebuild', () => {
  it('pause and resume of an unknown sale → 404; pausing twice is fine', async () => {
    for (const action of ['pause', 'resume', 'rebuild']) {
      const res = await h.app.inject({ method: 'POST', url: `/admin/sales/no-such-sale/${action}`, headers: admin })
      assert.equal(res.statusCode, 404, `${action}: ${res.body}`)
      assert.equal(res.json().code, 'INVENTORY_ERR_UNKNOWN_SALE')
    }
    const id = await h.createSale()
    for (let i = 0; i < 2; i++) {
      const res = await h.app.inject({ method: 'POST', url: `/admin/sales/${id}/pause`, headers: admin })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().sale.state, 'paused')
    }
    assert.equal((await h.gate(id)).meta['state'], 'paused')
  })

  it('a closed sale can no longer be changed, paused or resumed (409 INVENTORY_ERR_SALE_CLOSED)', async () => {
    const id = await h.createSale()
    await h.db.query(`UPDATE inventory.sales SET state = 'closed' WHERE id = $1`, [id])
    for (const r of [
      { method: 'PATCH' as const, url: `/admin/sales/${id}`, payload: { title: 'x' } },
      { method: 'POST' as const, url: `/admin/sales/${id}/pause` },
      { method: 'POST' as const, url: `/admin/sales/${id}/resume` },
    ]) {
      const res = await h.app.inject({ ...r, headers: admin })
      assert.equal(res.statusCode, 409, res.body)
      assert.equal(res.json().code, 'INVENTORY_ERR_SALE_CLOSED')
    }
  })
})

describe('public reads', () => {
  it('GET /sales?sku= lists the sales of a SKU (from a replica)', async () => {
    const sku = uid('SKU')
    const a = await h.createSale({ sku, startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-01-02T00:00:00Z' })
    const b = await h.createSale({ sku, startsAt: '2030-02-01T00:00:00Z', endsAt: '2030-02-02T00:00:00Z' })
    let ids: string[] = []
    for (let i = 0; i < 50 && ids.length < 2; i++) {
      const res = await h.app.inject({ method: 'GET', url: `/sales?sku=${sku}` })
      assert.equal(res.statusCode, 200)
      ids = res.json().sales.map((s: { id: string }) => s.id)
      if (ids.length < 2) await sleep(50) // a replica a few milliseconds behind
    }
    assert.deepEqual(ids, [b, a], 'newest window first')
    assert.equal((await h.app.inject({ method: 'GET', url: '/sales' })).statusCode, 400)
  })

  it('/metrics exposes the gate outcomes', async () => {
    await h.reserve('metered', { saleId, orderId: uid('m'), qty: 1 })
    const res = await h.app.inject({ method: 'GET', url: '/metrics' })
    assert.match(res.body, /inventory_gate_outcomes_total\{outcome="reserved",service="inventory-test"\} \d+/)
  })
})
