/**
 * The waiting rooms through the gateway, on real Redis with real upstream servers (ADR 0039): a sale with a
 * room takes orders only with a pass, the pass is checked locally and buys one order at most, admission
 * pauses while the gateway is degraded, sold out reaches held polls at once, a second instance (or a
 * restarted one) sees every place, and Redis down fails the room closed while issued passes keep working.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { json, redisThrough, startGateway, startUpstream, waitFor, type Gateway, type TestUpstream } from '../helpers.ts'

const SECRET = 'the-waiting-room-secret-of-this-test-fleet'
// The edge's sold-out marks last 200 ms unless renewed (2 s by default), so a test can see one lapse.
const ENV = { WAITING_ROOM_PASS_SECRET: SECRET, WAITING_ROOM_TICK_MS: '20', WAITING_ROOM_REFRESH_MS: '100', SOLD_OUT_EDGE_TTL_MS: '200' }
const HOUR = 3_600_000

describe('waiting rooms at the gateway', () => {
  let gw: Gateway
  let order: TestUpstream
  let inventory: TestUpstream
  let admin: string
  let n = 0
  before(async () => {
    order = await startUpstream('order-1')
    order.setHandler((_req, res) => json(res, 202, { orderId: `o-${++n}`, status: 'pending' }))
    inventory = await startUpstream('inventory-1')
    inventory.setHandler((req, res) => {
      const id = req.url!.split('/')[2]!
      if (id.startsWith('missing')) return json(res, 404, { code: 'INVENTORY_ERR_SALE_NOT_FOUND', status: 404 })
      const startsAt = new Date(Date.now() - HOUR).toISOString()
      json(res, 200, { sale: { id, sku: `SKU-${id}`, startsAt, endsAt: new Date(Date.now() + HOUR).toISOString() }, status: 'open' })
    })
    gw = await startGateway('rooms', { upstreams: { order: [order.url], inventory: [inventory.url] }, env: ENV })
    admin = await gw.adminToken()
  })
  after(async () => {
    await gw.close()
    await order.kill()
    await inventory.kill()
  })

  const openRoom = async (saleId: string, body: object = {}, g = gw) =>
    g.request({ method: 'PUT', url: `/admin/waiting-rooms/${saleId}`, token: admin, payload: body })
  const as = async (userId: string, g = gw) => g.buyerToken(userId)
  const join = async (saleId: string, userId: string, g = gw) =>
    g.request({ method: 'POST', url: `/sales/${saleId}/waiting-room/ticket`, token: await as(userId, g) })
  const poll = async (saleId: string, userId: string, wait = 0, g = gw) =>
    g.request({ method: 'GET', url: `/sales/${saleId}/waiting-room/ticket?wait=${wait}`, token: await as(userId, g) })
  const place = async (sku: string, userId: string, pass?: string, g = gw) =>
    g.request({
      method: 'POST',
      url: '/orders',
      token: await as(userId, g),
      headers: { 'idempotency-key': `client-key-${++n}`, ...(pass ? { 'waiting-room-pass': pass } : {}) },
      payload: { sku, qty: 1 },
    })
  /** Polls (long) until admitted; returns the pass. */
  const admitted = async (saleId: string, userId: string, g = gw) => {
    for (;;) {
      const res = await poll(saleId, userId, 5, g)
      assert.equal(res.statusCode, 200, res.body)
      const t = res.json()
      if (t.state === 'admitted') return t.pass as string
    }
  }

  test('an admin opens a room for a sale; from then on POST /orders for its SKU needs a pass', async () => {
    const opened = await openRoom('s-open')
    assert.equal(opened.statusCode, 201, opened.body)
    assert.equal(opened.json().sku, 'SKU-s-open')
    assert.equal(opened.json().mode, 'fifo')
    assert.equal((await openRoom('s-open', { passTtlSeconds: 60 })).statusCode, 200, 'changed')

    const before = order.total()
    const refused = await place('SKU-s-open', 'no-pass')
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.json().code, 'GATEWAY_ERR_WAITING_ROOM_PASS_REQUIRED')
    assert.equal(refused.json().join, '/sales/s-open/waiting-room/ticket')
    assert.equal(order.total(), before, 'the order service never saw it')
    assert.equal((await place('SKU-other', 'no-pass')).statusCode, 202, 'other SKUs are not in a room')
    assert.equal((await gw.request({ method: 'GET', url: '/sales/s-open/waiting-room' })).json().sku, 'SKU-s-open')
  })

  test('join, poll until admitted, order with the pass: the pass is the order key, so it buys one order at most', async () => {
    await openRoom('s-buy')
    const first = await join('s-buy', 'alice')
    assert.equal(first.statusCode, 201, first.body)
    assert.equal(first.json().ticket, 1)
    const again = await join('s-buy', 'alice')
    assert.equal(again.statusCode, 200)
    assert.equal(again.json().ticket, 1, 'one ticket per buyer')

    const pass = await admitted('s-buy', 'alice')
    const ok = await place('SKU-s-buy', 'alice', pass)
    assert.equal(ok.statusCode, 202, ok.body)
    const key = order.last()!.headers['idempotency-key']
    assert.match(String(key), /^wr-[A-Za-z0-9_-]{22}$/)
    assert.equal(order.last()!.headers['waiting-room-pass'], undefined, 'the pass stays at the gateway')

    await place('SKU-s-buy', 'alice', pass)
    assert.equal(order.last()!.headers['idempotency-key'], key, 'the same pass again: the same order request, whatever the client key')
    const reissued = await admitted('s-buy', 'alice')
    await place('SKU-s-buy', 'alice', reissued)
    assert.equal(order.last()!.headers['idempotency-key'], key, 'a re-issued pass of the same admission: still the same order')
  })

  test("a pass is bound to its buyer and its sale, and can't be forged", async () => {
    await openRoom('s-bound')
    await openRoom('s-bound-2')
    await join('s-bound', 'bob')
    const pass = await admitted('s-bound', 'bob')
    const verdict = async (res: Awaited<ReturnType<typeof place>>) => [res.statusCode, res.json().code, res.json().reason]
    assert.deepEqual(await verdict(await place('SKU-s-bound', 'mallory', pass)), [403, 'GATEWAY_ERR_WAITING_ROOM_PASS_INVALID', 'wrong_user'])
    assert.deepEqual(await verdict(await place('SKU-s-bound-2', 'bob', pass)), [403, 'GATEWAY_ERR_WAITING_ROOM_PASS_INVALID', 'wrong_sale'])
    const [v, body, sig] = pass.split('.')
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString())
    const forged = Buffer.from(JSON.stringify({ ...claims, u: 'mallory' })).toString('base64url')
    assert.deepEqual(await verdict(await place('SKU-s-bound', 'mallory', `${v}.${forged}.${sig}`)), [403, 'GATEWAY_ERR_WAITING_ROOM_PASS_INVALID', 'signature'])
    assert.deepEqual(await verdict(await place('SKU-s-bound', 'bob', 'not-a-pass')), [403, 'GATEWAY_ERR_WAITING_ROOM_PASS_INVALID', 'malformed'])
    assert.equal(await gw.metric('gateway_waiting_room_pass_checks_total', { verdict: 'wrong_user' }), 1)
  })

  test('admission pauses while the gateway is degraded, then admits in the order of joining', async () => {
    gw.app.gateway.degradation.setMode('on')
    try {
      await openRoom('s-paused')
      for (const u of ['p1', 'p2', 'p3']) assert.equal((await join('s-paused', u)).statusCode, 201)
      // The rate gauge is set by an advance: at least one tick ran since the three joined.
      const advancedAfter = await gw.metric('gateway_waiting_room_admitted_total', { sale_id: 's-paused' })
      await waitFor(async () => (await gw.metric('gateway_waiting_room_paused', { reason: 'degraded' })) === 1, 'the rooms see the degradation')
      await waitFor(async () => (await gw.metric('gateway_waiting_room_length', { sale_id: 's-paused' })) === 3, 'a tick counted the line')
      assert.equal(advancedAfter, 0)
      const positions = []
      for (const u of ['p1', 'p2', 'p3']) {
        const t = (await poll('s-paused', u)).json()
        assert.equal(t.state, 'waiting')
        assert.equal(t.estimatedWaitSeconds, undefined, 'no estimate while paused')
        positions.push(t.position)
      }
      assert.deepEqual(positions, [1, 2, 3])
    } finally {
      gw.app.gateway.degradation.setMode('auto')
    }
    const passes = await Promise.all(['p1', 'p2', 'p3'].map((u) => admitted('s-paused', u)))
    const places = passes.map((p) => JSON.parse(Buffer.from(p.split('.')[1]!, 'base64url').toString()).p)
    assert.deepEqual(places, [1, 2, 3], 'FIFO: places in the order of joining')
  })

  test('sold out reaches every held poll at once, and joining after it is answered sold out', { timeout: 15_000 }, async () => {
    gw.app.gateway.degradation.setMode('on') // nobody is admitted: they all wait
    try {
      await openRoom('s-sold')
      for (const u of ['w1', 'w2']) await join('s-sold', u)
      await waitFor(async () => (await gw.metric('gateway_waiting_room_length', { sale_id: 's-sold' })) === 2, 'a tick saw the line')
      // Held for up to 25 s: only a wake-up by the sold-out news answers them within this test's 15 s.
      const held = ['w1', 'w2'].map((u) => poll('s-sold', u, 25))
      await waitFor(async () => (await gw.metric('gateway_waiting_room_held_polls')) === 2, 'both polls held')
      await gw.redis.publish(`${gw.prefix}inv:stock`, JSON.stringify({ sku: 'SKU-s-sold', saleId: 's-sold', available: 0 }))
      for (const res of await Promise.all(held)) {
        assert.equal(res.statusCode, 409)
        assert.equal(res.json().code, 'ORDER_ERR_SOLD_OUT')
      }
      const late = await join('s-sold', 'w3')
      assert.equal(late.statusCode, 409)
      assert.equal(late.json().code, 'ORDER_ERR_SOLD_OUT')
    } finally {
      gw.app.gateway.degradation.setMode('auto')
    }
  })

  test("the room keeps telling sold out after the edge's mark lapsed, until the inventory says units are back", async () => {
    await openRoom('s-lapse')
    const publish = (available: number) => gw.redis.publish(`${gw.prefix}inv:stock`, JSON.stringify({ sku: 'SKU-s-lapse', saleId: 's-lapse', available }))
    await publish(0)
    await waitFor(() => gw.app.gateway.soldOut?.unitsLeft('SKU-s-lapse') === 0, 'the stock message arrived')
    await waitFor(() => gw.app.gateway.soldOut?.soldOutSale('SKU-s-lapse') === undefined, "the edge's mark lapsed")
    const told = await join('s-lapse', 'late-1')
    assert.equal(told.statusCode, 409, told.body)
    assert.equal(told.json().code, 'ORDER_ERR_SOLD_OUT')
    await publish(3)
    await waitFor(() => gw.app.gateway.soldOut?.unitsLeft('SKU-s-lapse') === 3, 'units back')
    assert.equal((await join('s-lapse', 'late-1')).statusCode, 201, 'reopened: a ticket')
  })

  test('an instance that closes answers the polls it holds (the buyers poll another), and keeps their places', { timeout: 15_000 }, async () => {
    const shared = (url: string) => new Redis(url, { keyPrefix: gw.prefix, maxRetriesPerRequest: 2 })
    const closing = await startGateway('rooms_3', { upstreams: { order: [order.url], inventory: [inventory.url] }, env: ENV, redis: (_p, url) => shared(url) })
    closing.app.gateway.degradation.setMode('on') // nobody is admitted: the poll stays held
    gw.app.gateway.degradation.setMode('on')
    try {
      await openRoom('s-close')
      await waitFor(() => closing.app.gateway.rooms?.bySale('s-close') !== undefined, 'the closing instance read the room')
      await join('s-close', 'held', closing)
      // Held for up to 25 s: only the close answers it within this test's 15 s.
      const held = poll('s-close', 'held', 25, closing)
      await waitFor(async () => (await closing.metric('gateway_waiting_room_held_polls')) === 1, 'the poll is held')
      await closing.close()
      const answer = await held
      assert.equal(answer.statusCode, 200, answer.body)
      assert.equal(answer.json().state, 'waiting')
      assert.equal((await poll('s-close', 'held')).json().ticket, 1, 'another instance has the same ticket')
    } finally {
      gw.app.gateway.degradation.setMode('auto')
    }
  })

  test('bad input gets a 4xx and changes nothing', async () => {
    const none = await join('s-none', 'x')
    assert.equal(none.statusCode, 404)
    assert.equal(none.json().code, 'GATEWAY_ERR_NO_WAITING_ROOM')
    await openRoom('s-bad')
    assert.equal((await poll('s-bad', 'never-joined')).json().code, 'GATEWAY_ERR_NO_TICKET')
    assert.equal((await poll('s-bad', 'x', 99)).statusCode, 400)
    assert.equal((await join('s{bad}', 'x')).statusCode, 400)
    assert.equal((await gw.request({ method: 'POST', url: '/sales/s-bad/waiting-room/ticket' })).statusCode, 401)
    for (const method of ['POST', 'GET', 'DELETE'] as const) {
      const forged = await gw.request({ method, url: '/sales/s-bad/waiting-room/ticket', headers: { authorization: 'Bearer aaa.bbb.ccc' } })
      assert.equal(forged.statusCode, 401, `${method}: ${forged.body}`)
      assert.equal(forged.json().code, 'GATEWAY_ERR_INVALID_TOKEN')
    }
    assert.equal((await openRoom('s-bad', { mode: 'random' })).statusCode, 400)
    assert.equal((await openRoom('s-bad', { ratePerSecond: -1 })).statusCode, 400)
    const missing = await openRoom('missing-sale')
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.json().code, 'GATEWAY_ERR_SALE_NOT_FOUND')
    const buyer = await gw.request({ method: 'PUT', url: '/admin/waiting-rooms/s-bad', token: await as('x'), payload: {} })
    assert.equal(buyer.statusCode, 403)
    await join('s-bad', 'locker')
    const locked = await openRoom('s-bad', { mode: 'lottery' })
    assert.equal(locked.statusCode, 409)
    assert.equal(locked.json().code, 'GATEWAY_ERR_WAITING_ROOM_MODE_LOCKED')
    assert.equal((await gw.request({ method: 'GET', url: '/sales/s-bad/waiting-room' })).json().mode, 'fifo')
  })

  test('leaving gives the place up; an admin closing the room lets orders through without a pass', async () => {
    gw.app.gateway.degradation.setMode('on') // nobody is admitted: l1 is still waiting when it leaves
    try {
      await openRoom('s-leave')
      await join('s-leave', 'l1')
      const left = await gw.request({ method: 'DELETE', url: '/sales/s-leave/waiting-room/ticket', token: await as('l1') })
      assert.deepEqual(left.json(), { saleId: 's-leave', outcome: 'left' })
      assert.equal(await gw.metric('gateway_waiting_room_abandoned_total', { sale_id: 's-leave' }), 1)
      assert.equal((await poll('s-leave', 'l1')).json().code, 'GATEWAY_ERR_NO_TICKET')
    } finally {
      gw.app.gateway.degradation.setMode('auto')
    }
    const closed = await gw.request({ method: 'DELETE', url: '/admin/waiting-rooms/s-leave', token: admin })
    assert.deepEqual(closed.json(), { saleId: 's-leave', removed: true })
    assert.equal((await place('SKU-s-leave', 'l2')).statusCode, 202)
  })

  test('another instance (or this one restarted) sees every place, and accepts the passes this one gave', async () => {
    await openRoom('s-fleet')
    await join('s-fleet', 'carol')
    const pass = await admitted('s-fleet', 'carol')
    const shared = (url: string) => new Redis(url, { keyPrefix: gw.prefix, maxRetriesPerRequest: 2 })
    const other = await startGateway('rooms_2', { upstreams: { order: [order.url], inventory: [inventory.url] }, env: ENV, redis: (_p, url) => shared(url) })
    try {
      await waitFor(() => other.app.gateway.rooms?.bySku('SKU-s-fleet') !== undefined, 'the other instance read the rooms')
      const t = (await poll('s-fleet', 'carol', 0, other)).json()
      assert.equal(t.ticket, 1, 'the same ticket')
      assert.equal(t.state, 'admitted')
      assert.equal((await place('SKU-s-fleet', 'carol', pass, other)).statusCode, 202, "the first instance's pass")
      assert.equal((await place('SKU-s-fleet', 'dave', undefined, other)).json().code, 'GATEWAY_ERR_WAITING_ROOM_PASS_REQUIRED')
    } finally {
      await other.close()
    }
  })
})

describe('waiting rooms with Redis down: closed to newcomers, open to passes already given', () => {
  let gw: Gateway
  let order: TestUpstream
  let inventory: TestUpstream
  let proxy: TestProxy
  before(async () => {
    order = await startUpstream('order-1')
    order.setHandler((_req, res) => json(res, 202, { orderId: 'o', status: 'pending' }))
    inventory = await startUpstream('inventory-1')
    inventory.setHandler((req, res) =>
      json(res, 200, { sale: { id: 's-down', sku: 'SKU-down', startsAt: new Date(0).toISOString(), endsAt: new Date(Date.now() + HOUR).toISOString() } }),
    )
    proxy = await createTestProxy('gw_rooms_redis', (await getInfra()).redisUrl)
    gw = await startGateway('rooms_down', {
      upstreams: { order: [order.url], inventory: [inventory.url] },
      env: { ...ENV, REDIS_COMMAND_TIMEOUT_MS: '200' },
      redis: redisThrough(proxy),
    })
  })
  after(async () => {
    await gw?.close()
    await order?.kill()
    await inventory?.kill()
    await proxy?.cleanup()
  })

  test('join answers 503 with Retry-After and keeps nothing half-done; an issued pass still orders', async () => {
    await waitFor(() => gw.redis.status === 'ready', 'connected through the proxy')
    const admin = await gw.adminToken()
    assert.equal((await gw.request({ method: 'PUT', url: '/admin/waiting-rooms/s-down', token: admin, payload: {} })).statusCode, 201)
    const token = await gw.buyerToken('erin')
    assert.equal((await gw.request({ method: 'POST', url: '/sales/s-down/waiting-room/ticket', token })).statusCode, 201)
    let pass: string | undefined
    await waitFor(async () => {
      pass = (await gw.request({ method: 'GET', url: '/sales/s-down/waiting-room/ticket', token })).json().pass
      return pass !== undefined
    }, 'erin admitted')

    await proxy.disable()
    try {
      const refused = await gw.request({ method: 'POST', url: '/sales/s-down/waiting-room/ticket', token: await gw.buyerToken('frank') })
      assert.equal(refused.statusCode, 503)
      assert.equal(refused.json().code, 'GATEWAY_ERR_WAITING_ROOM_UNAVAILABLE')
      assert.ok(Number(refused.headers['retry-after']) >= 1)
      const ordered = await gw.request({
        method: 'POST',
        url: '/orders',
        token,
        headers: { 'idempotency-key': 'k1', 'waiting-room-pass': pass! },
        payload: { sku: 'SKU-down', qty: 1 },
      })
      assert.equal(ordered.statusCode, 202, 'the pass is checked without Redis')
      const noPass = await gw.request({
        method: 'POST',
        url: '/orders',
        token: await gw.buyerToken('frank'),
        headers: { 'idempotency-key': 'k2' },
        payload: { sku: 'SKU-down', qty: 1 },
      })
      assert.equal(noPass.statusCode, 403, 'still no order without a pass')
    } finally {
      await proxy.enable()
    }
  })
})
