/**
 * The gateway's door (ADR 0032), on the real stack (Redis for rate limits, real ES256 tokens, a real
 * upstream over HTTP): a bounded number of requests at a time in the gateway's own work, the rest waiting
 * their turn. Every way a request ends gives its place back (a place kept would stop the door for good),
 * the route's budget runs from arrival, and health checks never wait at the door.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { json, startGateway, startUpstream, type Gateway, type TestUpstream } from './helpers.ts'

describe('the gateway door (INTAKE_LIMIT=1)', () => {
  let gw: Gateway
  let order: TestUpstream
  let n = 0
  before(async () => {
    order = await startUpstream('order-1')
    order.setHandler((_req, res) => json(res, 202, { orderId: 'x', status: 'pending' }))
    gw = await startGateway('intake', {
      upstreams: { order: [order.url] },
      env: { INTAKE_LIMIT: '1', RATE_PER_USER_BURST: '2', RATE_PER_USER_PER_SECOND: '1' },
    })
  })
  after(async () => {
    await gw.close()
    await order.kill()
  })

  const inflight = () => gw.metric('gateway_upstream_inflight', { upstream: 'intake' })
  const place = async (buyer: string, body: object = { sku: 'SKU-1', qty: 1 }, token?: string) =>
    gw.request({ method: 'POST', url: '/orders', token: token ?? (await gw.buyerToken(buyer)), headers: { 'idempotency-key': `k-${++n}` }, payload: body })

  test('a crowd at a door of one gets through, one at a time, and leaves the door empty', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => place(`crowd-${i}`)))
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      Array(30).fill(202),
    )
    assert.equal(await gw.metric('gateway_queue_wait_seconds_count', { upstream: 'intake', priority: 'core', outcome: 'admitted' }), 30)
    assert.equal(await gw.metric('gateway_shed_total', { upstream: 'intake' }), 0, 'nobody refused at the door')
    assert.equal(await inflight(), 0)
  })

  test('every way a request ends gives its place back: 400, 401, 429, a proxied answer', async () => {
    const token = await gw.buyerToken('ends')
    assert.equal((await place('ends', { sku: '', qty: 0 }, token)).statusCode, 400)
    assert.equal(await inflight(), 0, 'after a 400')
    assert.equal((await place('ends', undefined, token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA'))).statusCode, 401)
    assert.equal(await inflight(), 0, 'after a 401')
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await place('ends', undefined, token)).statusCode)
    assert.ok(statuses.includes(429), `the per-user limit (burst 2) refused one: ${statuses}`)
    assert.equal(await inflight(), 0, 'after a 429')
    assert.equal((await gw.request({ method: 'GET', url: '/health/ready' })).statusCode, 200)
    assert.equal((await place('ends-2')).statusCode, 202, 'the door still lets the next one in')
    assert.equal(await inflight(), 0)
  })
})
