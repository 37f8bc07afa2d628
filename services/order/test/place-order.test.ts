import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions } from 'fastify'
import { Redis } from 'ioredis'
import { createDatabase } from '@flashsale/db'
import { createOrderHarness, freePort, type OrderHarness } from './helpers.ts'

describe('POST /orders and GET /orders/:id (real inventory, Redis, Kafka, PostgreSQL)', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('place')
    await h.startWorker()
  })
  after(() => h?.close())

  it('answers 202 with the order id, a status URL and Location; the worker confirms it and takes the stock', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 5 })
    const res = await h.placeOrder('buyer-1', { sku, qty: 2 })
    assert.equal(res.statusCode, 202, res.body)
    const body = res.json()
    assert.equal(body.status, 'pending')
    assert.equal(body.statusUrl, `/orders/${body.orderId}`)
    assert.equal(res.headers['location'], body.statusUrl)

    const token = await h.buyerToken('buyer-1')
    await h.eventually(async () => {
      const got = await h.app.inject({ url: body.statusUrl, headers: { authorization: `Bearer ${token}` } })
      return got.statusCode === 200 && got.json().status === 'confirmed'
    }, 'the order to be confirmed')
    assert.deepEqual(await h.ledger(saleId), { total: 5, sold: 2 })
    const rows = await h.orderRows(saleId)
    assert.equal(rows.length, 1)
    assert.deepEqual({ user: rows[0]?.user_id, status: rows[0]?.status, qty: rows[0]?.qty }, { user: 'buyer-1', status: 'confirmed', qty: 2 })
  })

  it('shows an order only to its buyer: another user gets 404, not 403', async () => {
    const { sku } = await h.createSale()
    const placed = await h.placeOrder('owner-1', { sku, qty: 1 })
    const other = await h.app.inject({ url: placed.json().statusUrl, headers: { authorization: `Bearer ${await h.buyerToken('someone-else')}` } })
    assert.equal(other.statusCode, 404)
    assert.equal(other.json().code, 'ORDER_ERR_NOT_FOUND')
  })

  it('when the sale is sold out, answers a fast 409 ORDER_ERR_SOLD_OUT and queues nothing', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 1, perUserLimit: 1 })
    assert.equal((await h.placeOrder('first', { sku, qty: 1 })).statusCode, 202)
    const late = await h.placeOrder('second', { sku, qty: 1 })
    assert.equal(late.statusCode, 409)
    assert.equal(late.json().code, 'ORDER_ERR_SOLD_OUT')
    await h.eventually(async () => (await h.orderRows(saleId)).length === 1, 'the first order persisted')
    await new Promise((r) => setTimeout(r, 500))
    assert.equal((await h.orderRows(saleId)).length, 1, 'the refused order never reached the worker')
  })

  it('counts every placement by outcome in order_placements_total, and times the enqueue of each accepted one', async () => {
    const sample = async (name: string, labels: string): Promise<number> => {
      const text = (await h.app.inject({ url: '/metrics' })).body
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
    }
    const before = {
      accepted: await sample('order_placements_total', 'outcome="accepted",replayed="false"'),
      replayed: await sample('order_placements_total', 'outcome="accepted",replayed="true"'),
      soldOut: await sample('order_placements_total', 'outcome="sold_out",replayed="false"'),
      enqueued: await sample('order_enqueue_duration_seconds_count', 'outcome="ok"'),
    }
    const { sku } = await h.createSale({ totalUnits: 1, perUserLimit: 1 })
    const key = randomUUID()
    assert.equal((await h.placeOrder('counted-1', { sku, qty: 1 }, key)).statusCode, 202)
    assert.equal((await h.placeOrder('counted-1', { sku, qty: 1 }, key)).statusCode, 202)
    assert.equal((await h.placeOrder('counted-2', { sku, qty: 1 })).statusCode, 409)
    assert.equal(await sample('order_placements_total', 'outcome="accepted",replayed="false"'), before.accepted + 1)
    assert.equal(await sample('order_placements_total', 'outcome="accepted",replayed="true"'), before.replayed + 1)
    assert.equal(await sample('order_placements_total', 'outcome="sold_out",replayed="false"'), before.soldOut + 1)
    assert.equal(
      await sample('order_enqueue_duration_seconds_count', 'outcome="ok"'),
      before.enqueued + 1,
      'one enqueue: the replay and the refusal queue nothing',
    )
  })

  it('the same Idempotency-Key sent 20 times at once makes one order, one decrement, and the same answer', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 10, perUserLimit: 5 })
    const key = randomUUID()
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.placeOrder('repeat-buyer', { sku, qty: 1 }, key)))
    const accepted = answers.filter((a) => a.statusCode === 202)
    // Concurrent repeats wait for the first request; any that waited past the bound get 409 "in progress".
    assert.ok(accepted.length >= 1)
    assert.ok(
      answers.every((a) => a.statusCode === 202 || (a.statusCode === 409 && a.json().code === 'ORDER_ERR_REQUEST_IN_PROGRESS')),
      answers.map((a) => a.statusCode).join(','),
    )
    assert.equal(new Set(accepted.map((a) => a.json().orderId)).size, 1, 'every 202 names the same order')
    // A later repeat replays the same answer.
    const again = await h.placeOrder('repeat-buyer', { sku, qty: 1 }, key)
    assert.equal(again.statusCode, 202)
    assert.equal(again.json().orderId, accepted[0]?.json().orderId)
    assert.equal(again.headers['idempotent-replayed'], 'true')

    await h.eventually(async () => (await h.orderRows(saleId)).some((r) => r.status === 'confirmed'), 'the order to be persisted')
    await new Promise((r) => setTimeout(r, 500))
    assert.equal((await h.orderRows(saleId)).length, 1)
    assert.equal((await h.ledger(saleId)).sold, 1)
  })

  it('the same Idempotency-Key with a different body answers 422 and changes nothing', async () => {
    const { saleId, sku } = await h.createSale()
    const key = randomUUID()
    assert.equal((await h.placeOrder('k-buyer', { sku, qty: 1 }, key)).statusCode, 202)
    const reused = await h.placeOrder('k-buyer', { sku, qty: 2 }, key)
    assert.equal(reused.statusCode, 422)
    assert.equal(reused.json().code, 'ORDER_ERR_IDEMPOTENCY_KEY_REUSED')
    await h.eventually(async () => (await h.ledger(saleId)).sold === 1, 'the first order persisted')
  })

  it('with its Redis gone, answers 503 ORDER_ERR_IDEMPOTENCY_UNAVAILABLE with Retry-After (never 500) and reserves nothing', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 5 })
    // A real client to a port nobody listens on, configured as server.ts configures the service's own.
    const gone = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
    gone.on('error', () => {})
    const app = await h.appWith({ redis: gone })
    const token = await h.buyerToken('buyer-no-redis')
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k-no-redis' },
      payload: { sku, qty: 1 },
    })
    assert.equal(res.statusCode, 503, res.body)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(res.json().code, 'ORDER_ERR_IDEMPOTENCY_UNAVAILABLE')
    assert.ok(Number(res.headers['retry-after']) >= 1)
    assert.equal(await h.gateAvailable(saleId), 5, 'nothing reserved')
    gone.disconnect()
  })

  it('with the PostgreSQL primary gone, still accepts orders (they queue in Kafka) and stays ready; /health/deps names the primary', async () => {
    const { sku } = await h.createSale({ totalUnits: 5 })
    const gone = createDatabase({
      primaryUrl: `postgres://x:y@127.0.0.1:${await freePort()}/z`,
      replicaUrls: [],
      poolOptions: { name: 'order-test-gone', max: 2, min: 0 },
    })
    try {
      const app = await h.appWith({ db: gone })
      const token = await h.buyerToken('buyer-no-pg')
      const res = await app.inject({
        method: 'POST',
        url: '/orders',
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k-no-pg' },
        payload: { sku, qty: 1 },
      })
      assert.equal(res.statusCode, 202, res.body)
      assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
      const deps = await app.inject({ method: 'GET', url: '/health/deps' })
      assert.equal(deps.statusCode, 503)
      assert.equal(deps.json().dependencies.postgres.status, 'down')
      assert.equal(deps.json().dependencies.redis.status, 'up')
    } finally {
      await gone.close()
    }
  })

  it('refuses bad input with 4xx problem+json and reserves nothing', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 3, perUserLimit: 1 })
    const token = await h.buyerToken('bad-input')
    const cases: [string, InjectOptions, number, string][] = [
      [
        'missing Idempotency-Key',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}` }, payload: { sku, qty: 1 } },
        400,
        'ORDER_ERR_IDEMPOTENCY_KEY_MISSING',
      ],
      [
        'qty 0',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k0' }, payload: { sku, qty: 0 } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'qty above the most per order',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k1' }, payload: { sku, qty: 11 } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'missing sku',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k2' }, payload: { qty: 1 } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'a userId in the body',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k3' }, payload: { sku, qty: 1, userId: 'victim' } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'malformed JSON',
        {
          method: 'POST',
          url: '/orders',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k4', 'content-type': 'application/json' },
          payload: '{"sku":',
        },
        400,
        'FST_ERR_CTP_INVALID_JSON_BODY',
      ],
      [
        'oversized body',
        {
          method: 'POST',
          url: '/orders',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k5', 'content-type': 'application/json' },
          payload: JSON.stringify({ sku, qty: 1, pad: 'x'.repeat(4096) }),
        },
        413,
        'FST_ERR_CTP_BODY_TOO_LARGE',
      ],
      [
        'unknown SKU',
        { method: 'POST', url: '/orders', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k6' }, payload: { sku: 'NO-SUCH-SKU', qty: 1 } },
        404,
        'ORDER_ERR_UNKNOWN_SALE',
      ],
      ['no token', { method: 'POST', url: '/orders', headers: { 'idempotency-key': 'k7' }, payload: { sku, qty: 1 } }, 401, 'AUTH_ERR_UNAUTHENTICATED'],
      ['a bad order id', { method: 'GET', url: '/orders/not-a-uuid', headers: { authorization: `Bearer ${token}` } }, 400, 'VALIDATION_FAILED'],
    ]
    for (const [what, request, status, code] of cases) {
      const res = await h.app.inject(request)
      assert.equal(res.statusCode, status, `${what}: ${res.body}`)
      assert.match(String(res.headers['content-type']), /application\/problem\+json/, what)
      assert.equal(res.json().code, code, what)
    }
    // Above the sale's per-buyer limit: the gate refuses it.
    const overLimit = await h.placeOrder('bad-input', { sku, qty: 2 })
    assert.equal(overLimit.statusCode, 409)
    assert.equal(overLimit.json().code, 'ORDER_ERR_LIMIT_REACHED')
    const gate = await fetch(`${h.inventoryUrl}/sales/${saleId}`).then((r) => r.json() as Promise<{ approximateAvailable: number }>)
    assert.equal(gate.approximateAvailable, 3, 'nothing was reserved')
    assert.deepEqual(await h.orderRows(saleId), [])
  })
})
