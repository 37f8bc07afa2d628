import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { saleKeys } from '../../src/store/gate-store.ts'
import { liveReservations, startHarness, uid, type Harness } from '../helpers.ts'

let h: Harness
before(async () => {
  h = await startHarness('reservations')
})
after(() => h.close())

const auth = async (token: Promise<string>) => ({ authorization: `Bearer ${await token}` })

describe('the stock gate under a race', () => {
  it('200 buyers × 10 concurrent attempts on 100 units, limit 1 → exactly 100 reserved by 100 distinct buyers, available never below 0', async () => {
    const saleId = await h.createSale({ totalUnits: 100, perUserLimit: 1 })
    const users = Array.from({ length: 200 }, (_, i) => `racer-${i}`)
    await Promise.all(users.map((u) => h.buyerToken(u)))

    // Watch the counter while the race runs: it must never go below zero.
    const availKey = saleKeys(saleId)[1] as string
    let lowest = Number.POSITIVE_INFINITY
    let racing = true
    const watcher = (async () => {
      while (racing) lowest = Math.min(lowest, Number(await h.redis.get(availKey)))
    })()

    const attempts = users.flatMap((userId) => Array.from({ length: 10 }, () => ({ userId, orderId: uid('race') })))
    const answers = await Promise.all(attempts.map(async (a) => ({ ...a, res: await h.reserve(a.userId, { saleId, orderId: a.orderId, qty: 1 }) })))
    racing = false
    await watcher

    const reserved = answers.filter((a) => a.res.statusCode === 201)
    assert.equal(reserved.length, 100, 'exactly the stock is reserved')
    assert.equal(new Set(reserved.map((a) => a.userId)).size, 100, 'by 100 distinct buyers')
    for (const a of answers.filter((x) => x.res.statusCode !== 201)) {
      assert.equal(a.res.statusCode, 409, a.res.body)
      assert.ok(['INVENTORY_ERR_SOLD_OUT', 'INVENTORY_ERR_LIMIT_REACHED'].includes(a.res.json().code), a.res.body)
    }
    assert.ok(lowest >= 0, `available went to ${lowest}`)

    const gate = await h.gate(saleId)
    assert.equal(gate.available, 0)
    assert.equal(Object.keys(gate.users).length, 100)
    assert.ok(Object.values(gate.users).every((n) => n === 1))
    assert.equal(liveReservations(gate).units, 100)
    assert.equal(Number(gate.meta['uncommitted']), 100)
    // The gate reserves; only the order worker moves Postgres.
    assert.deepEqual(await h.ledger(saleId), { total: 100, sold: 0 })
  })
})

describe('idempotent reserve', () => {
  it('the same order id sent 20 times at once → one reservation and one decrement; every answer carries the same reservation', async () => {
    const saleId = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    const orderId = uid('idem')
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.reserve('idem-buyer', { saleId, orderId, qty: 3 })))
    const codes = answers.map((r) => r.statusCode).sort()
    assert.deepEqual(codes, [...Array(19).fill(200), 201])
    const reservations = answers.map((r) => r.json().reservation)
    assert.ok(reservations.every((r) => JSON.stringify(r) === JSON.stringify(reservations[0])))
    assert.equal(answers.filter((r) => r.json().outcome === 'duplicate').length, 19)
    assert.deepEqual(reservations[0], { ...reservations[0], orderId, saleId, userId: 'idem-buyer', qty: 3, state: 'reserved' })

    const gate = await h.gate(saleId)
    assert.equal(gate.available, 7)
    assert.equal(gate.users['idem-buyer'], 3)
    assert.equal(liveReservations(gate).count, 1)
  })

  it('an order id another buyer already used answers 409 INVENTORY_ERR_ORDER_ID_CONFLICT and takes nothing', async () => {
    const saleId = await h.createSale({ totalUnits: 10 })
    const orderId = uid('taken')
    assert.equal((await h.reserve('first', { saleId, orderId, qty: 1 })).statusCode, 201)
    const res = await h.reserve('second', { saleId, orderId, qty: 1 })
    assert.equal(res.statusCode, 409)
    assert.equal(res.json().code, 'INVENTORY_ERR_ORDER_ID_CONFLICT')
    assert.equal((await h.gate(saleId)).available, 9)
  })

  it('an order id reserved in one sale answers conflict in another, and the second sale keeps its units', async () => {
    const a = await h.createSale({ totalUnits: 5 })
    const b = await h.createSale({ totalUnits: 5 })
    const orderId = uid('cross')
    assert.equal((await h.reserve('crosser', { saleId: a, orderId, qty: 1 })).statusCode, 201)
    const res = await h.reserve('crosser', { saleId: b, orderId, qty: 1 })
    assert.equal(res.json().code, 'INVENTORY_ERR_ORDER_ID_CONFLICT')
    assert.equal((await h.gate(b)).available, 5)
    assert.equal((await h.gate(a)).available, 4)
  })
})

describe('release returns units exactly once', () => {
  it('20 concurrent releases of one order give its units back once; the rest answer released 0', async () => {
    const saleId = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    const orderId = uid('rel')
    assert.equal((await h.reserve('releaser', { saleId, orderId, qty: 4 })).statusCode, 201)
    const headers = await auth(h.buyerToken('releaser'))
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers })))
    assert.ok(answers.every((r) => r.statusCode === 200))
    const released = answers.map((r) => r.json().released as number)
    assert.equal(
      released.reduce((s, n) => s + n, 0),
      4,
    )
    assert.equal(released.filter((n) => n === 4).length, 1)

    const gate = await h.gate(saleId)
    assert.equal(gate.available, 10)
    assert.equal(gate.users['releaser'], undefined)
    assert.equal(liveReservations(gate).count, 0)
    assert.equal(Number(gate.meta['uncommitted']), 0)
  })

  it('releasing an unknown order answers 200 released 0', async () => {
    const res = await h.app.inject({ method: 'DELETE', url: `/reservations/${uid('never')}`, headers: await auth(h.buyerToken('nobody')) })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().released, 0)
  })

  it('a released order id cannot reserve again: a repeat answers duplicate with state released', async () => {
    const saleId = await h.createSale({ totalUnits: 3 })
    const orderId = uid('again')
    await h.reserve('again', { saleId, orderId, qty: 1 })
    await h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers: await auth(h.buyerToken('again')) })
    const res = await h.reserve('again', { saleId, orderId, qty: 1 })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().reservation.state, 'released')
    assert.equal((await h.gate(saleId)).available, 3)
  })

  it("a buyer cannot release another buyer's reservation (403) and nothing changes", async () => {
    const saleId = await h.createSale({ totalUnits: 3 })
    const orderId = uid('mine')
    await h.reserve('owner', { saleId, orderId, qty: 1 })
    const before = await h.gate(saleId)
    const res = await h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers: await auth(h.buyerToken('thief')) })
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'INVENTORY_ERR_NOT_RESERVATION_OWNER')
    assert.deepEqual(await h.gate(saleId), before)
    const peek = await h.app.inject({ method: 'GET', url: `/reservations/${orderId}`, headers: await auth(h.buyerToken('thief')) })
    assert.equal(peek.statusCode, 404)
  })

  it('once the worker has claimed it, the buyer can no longer release it (409); the order service (admin) can, once', async () => {
    const saleId = await h.createSale({ totalUnits: 3 })
    const orderId = uid('claimed')
    await h.reserve('claimer', { saleId, orderId, qty: 1 })
    const admin = await auth(h.adminToken())
    const claim = await h.app.inject({ method: 'POST', url: '/admin/reservations/claim', headers: admin, payload: { orderIds: [orderId] } })
    assert.equal(claim.json().results[0].outcome, 'ok')

    const byBuyer = await h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers: await auth(h.buyerToken('claimer')) })
    assert.equal(byBuyer.statusCode, 409)
    assert.equal(byBuyer.json().code, 'INVENTORY_ERR_RESERVATION_PERSISTED')
    assert.equal((await h.gate(saleId)).available, 2)

    const byAdmin = await Promise.all([1, 2].map(() => h.app.inject({ method: 'DELETE', url: `/reservations/${orderId}`, headers: admin })))
    assert.deepEqual(byAdmin.map((r) => r.json().released).sort(), [0, 1])
    assert.equal((await h.gate(saleId)).available, 3)
  })
})

describe('the order pipeline steps on a reservation', () => {
  it('claim → commit → confirm move the reservation forward, each idempotent; a released order is reported released so the worker rejects it', async () => {
    const saleId = await h.createSale({ totalUnits: 5 })
    const kept = uid('kept')
    const dropped = uid('dropped')
    await h.reserve('piper', { saleId, orderId: kept, qty: 1 })
    await h.reserve('piper', { saleId, orderId: dropped, qty: 1 })
    await h.app.inject({ method: 'DELETE', url: `/reservations/${dropped}`, headers: await auth(h.buyerToken('piper')) })
    const admin = await auth(h.adminToken())
    const step = async (name: string, orderIds: string[]) =>
      (await h.app.inject({ method: 'POST', url: `/admin/reservations/${name}`, headers: admin, payload: { orderIds } })).json().results as {
        outcome: string
        reservation?: { state: string }
      }[]

    const unknown = uid('unknown')
    const claimed = await step('claim', [kept, dropped, unknown])
    assert.deepEqual(
      claimed.map((r) => r.outcome),
      ['ok', 'released', 'not_found'],
    )
    assert.equal(claimed[0]?.reservation?.state, 'committing')
    assert.equal((await step('claim', [kept]))[0]?.outcome, 'already')
    assert.equal((await step('commit', [kept]))[0]?.reservation?.state, 'committed')
    assert.equal((await step('commit', [kept]))[0]?.outcome, 'already')
    assert.equal((await step('confirm', [kept]))[0]?.reservation?.state, 'confirmed')
    assert.equal((await step('confirm', [kept]))[0]?.outcome, 'already')

    const gate = await h.gate(saleId)
    assert.equal(gate.available, 4)
    assert.equal(Number(gate.meta['uncommitted']), 0)
    assert.equal(Number(gate.meta['committed']), 1)
  })
})

describe('sale window and state', () => {
  it('before the start → 409 INVENTORY_ERR_NOT_OPEN; after the end → 409 INVENTORY_ERR_CLOSED; nothing reserved', async () => {
    const now = h.clock.now()
    const saleId = await h.createSale({ startsAt: new Date(now + 60_000).toISOString(), endsAt: new Date(now + 120_000).toISOString() })
    const early = await h.reserve('early', { saleId, orderId: uid('w'), qty: 1 })
    assert.equal(early.statusCode, 409)
    assert.equal(early.json().code, 'INVENTORY_ERR_NOT_OPEN')
    assert.equal(early.json().outcome, 'not_open')

    h.clock.advance(90_000)
    try {
      assert.equal((await h.reserve('ontime', { saleId, orderId: uid('w'), qty: 1 })).statusCode, 201)
      h.clock.advance(60_000)
      const late = await h.reserve('late', { saleId, orderId: uid('w'), qty: 1 })
      assert.equal(late.statusCode, 409)
      assert.equal(late.json().code, 'INVENTORY_ERR_CLOSED')
    } finally {
      h.clock.advance(-150_000)
    }
    assert.equal((await h.gate(saleId)).available, 9)
  })

  it('paused → 409 INVENTORY_ERR_PAUSED; resumed → reserves again', async () => {
    const saleId = await h.createSale()
    const admin = await auth(h.adminToken())
    assert.equal((await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/pause`, headers: admin })).statusCode, 200)
    const paused = await h.reserve('p', { saleId, orderId: uid('p'), qty: 1 })
    assert.equal(paused.statusCode, 409)
    assert.equal(paused.json().code, 'INVENTORY_ERR_PAUSED')
    const resumed = await h.app.inject({ method: 'POST', url: `/admin/sales/${saleId}/resume`, headers: admin })
    assert.equal(resumed.statusCode, 200)
    assert.equal(resumed.json().sale.state, 'active')
    assert.equal(resumed.json().rebuild.status, 'rebuilt')
    assert.equal((await h.reserve('p', { saleId, orderId: uid('p'), qty: 1 })).statusCode, 201)
  })

  it('GET /sales/:id shows the gate status and the approximate units left, without a token', async () => {
    const saleId = await h.createSale({ totalUnits: 8 })
    await h.reserve('viewer', { saleId, orderId: uid('v'), qty: 2 })
    await h.testDb.replicated() // the view reads a replica
    const res = await h.app.inject({ method: 'GET', url: `/sales/${saleId}` })
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.status, 'open')
    assert.equal(body.approximateAvailable, 6)
    assert.equal(body.sale.totalUnits, 8)
    assert.equal((await h.app.inject({ method: 'GET', url: '/sales/no-such-sale' })).statusCode, 404)
  })
})

describe('bad input to POST /reservations gets a 4xx problem and changes nothing', () => {
  const cases: { name: string; body: unknown; raw?: string; status: number; code?: string; contentType?: string }[] = [
    { name: 'missing saleId', body: { orderId: 'o-1', qty: 1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'missing orderId', body: { saleId: 'S', qty: 1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'missing qty', body: { saleId: 'S', orderId: 'o-1' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'qty 0', body: { saleId: 'S', orderId: 'o-1', qty: 0 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'qty -1', body: { saleId: 'S', orderId: 'o-1', qty: -1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'qty 1.5', body: { saleId: 'S', orderId: 'o-1', qty: 1.5 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'qty above the largest reservation (101)', body: { saleId: 'S', orderId: 'o-1', qty: 101 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'qty "many"', body: { saleId: 'S', orderId: 'o-1', qty: 'many' }, status: 400, code: 'VALIDATION_FAILED' },
    {
      name: 'a userId in the body (identity comes only from the token)',
      body: { saleId: 'S', orderId: 'o-1', qty: 1, userId: 'someone-else' },
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a sale id with a brace (it would break the Redis hash tag)',
      body: { saleId: 'a}b', orderId: 'o-1', qty: 1 },
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    { name: 'an order id of 65 characters', body: { saleId: 'S', orderId: 'o'.repeat(65), qty: 1 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'malformed JSON', body: undefined, raw: '{"saleId": "S", "qty": ', status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
    { name: 'an oversized body (2 KiB)', body: undefined, raw: JSON.stringify({ saleId: 'S', orderId: 'o-1', qty: 1, pad: 'x'.repeat(2048) }), status: 413 },
    { name: 'a form instead of JSON', body: undefined, raw: 'saleId=S&qty=1', contentType: 'application/x-www-form-urlencoded', status: 415 },
  ]

  let saleId: string
  before(async () => {
    saleId = await h.createSale({ totalUnits: 5, perUserLimit: 2 })
  })

  const unchanged = async () => ({ gate: await h.gate(saleId), ledger: await h.ledger(saleId) })

  for (const c of cases) {
    it(`${c.name} → ${c.status}${c.code ? ` ${c.code}` : ''}`, async () => {
      const before = await unchanged()
      const payload = c.raw ?? JSON.stringify(JSON.parse(JSON.stringify(c.body)).saleId === 'S' ? { ...(c.body as object), saleId } : c.body)
      const res = await h.app.inject({
        method: 'POST',
        url: '/reservations',
        headers: { ...(await auth(h.buyerToken('bad-input'))), 'content-type': c.contentType ?? 'application/json' },
        payload,
      })
      assert.equal(res.statusCode, c.status, res.body)
      assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/)
      if (c.code) assert.equal(res.json().code, c.code)
      assert.deepEqual(await unchanged(), before)
    })
  }

  it('qty above the per-user limit → 409 INVENTORY_ERR_LIMIT_REACHED with the limit, nothing reserved', async () => {
    const before = await unchanged()
    const res = await h.reserve('bad-input', { saleId, orderId: uid('big'), qty: 3 })
    assert.equal(res.statusCode, 409)
    assert.equal(res.json().code, 'INVENTORY_ERR_LIMIT_REACHED')
    assert.equal(res.json().limit, 2)
    assert.deepEqual(await unchanged(), before)
  })

  it('an unknown sale → 404 INVENTORY_ERR_UNKNOWN_SALE', async () => {
    const res = await h.reserve('bad-input', { saleId: 'no-such-sale', orderId: uid('u'), qty: 1 })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'INVENTORY_ERR_UNKNOWN_SALE')
    assert.equal(res.json().outcome, 'unknown_sale')
  })

  it('no token → 401 with WWW-Authenticate, nothing reserved', async () => {
    const before = await unchanged()
    const res = await h.app.inject({ method: 'POST', url: '/reservations', payload: { saleId, orderId: uid('anon'), qty: 1 } })
    assert.equal(res.statusCode, 401)
    assert.match(String(res.headers['www-authenticate']), /^Bearer/)
    assert.deepEqual(await unchanged(), before)
  })
})
