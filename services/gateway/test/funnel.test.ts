import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTokenIssuer, generateSigningKeys } from '@flashsale/auth'
import { startGateway, startUpstream, type Gateway, type TestUpstream } from './helpers.ts'

const ORDER_ID = '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b'

describe('the traffic funnel in front of the upstreams', () => {
  let gw: Gateway
  let order: TestUpstream
  let catalog: TestUpstream
  before(async () => {
    ;[order, catalog] = await Promise.all([startUpstream('order-1'), startUpstream('catalog-1')])
    gw = await startGateway('funnel', { upstreams: { order: [order.url], catalog: [catalog.url] } })
  })
  after(async () => {
    await gw.close()
    await Promise.all([order.kill(), catalog.kill()])
  })

  test('illegal parameters are refused with 400 VALIDATION_FAILED before any upstream is called', async () => {
    const token = await gw.buyerToken('bob')
    const before = order.total() + catalog.total()
    const cases = [
      { method: 'GET', url: '/orders/not-a-uuid', token },
      { method: 'POST', url: '/orders', token, payload: { sku: 'SKU-1', qty: 1 } }, // no idempotency key
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: 'SKU-1', qty: 0 } },
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: 'SKU-1', qty: 1, userId: 'mallory' } },
      // A JSON body is not coerced: each of these once became a real order.
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: 'SKU-1', qty: '2' } },
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: 'SKU-1', qty: true } },
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: 'SKU-1', qty: [1] } },
      { method: 'POST', url: '/orders', token, headers: { 'idempotency-key': 'k' }, payload: { sku: ['SKU-1'], qty: 1 } },
      { method: 'GET', url: '/products?limit=100000' },
      { method: 'GET', url: '/products?debug=true' },
    ] as const
    for (const c of cases) {
      const res = await gw.request(c)
      assert.equal(res.statusCode, 400, `${c.method} ${c.url}: ${res.body}`)
      assert.equal(res.json().code, 'VALIDATION_FAILED')
    }
    assert.equal(order.total() + catalog.total(), before, 'no upstream saw any of them')
  })

  test('the edge accepts what the services behind it accept, and refuses what they refuse (scripts/check-route-table.ts)', async () => {
    const token = await gw.buyerToken('carol')
    // Accepted at the edge and passed on: a review as the review service takes it, catalog's sort and order.
    for (const c of [
      { method: 'POST', url: '/products/p-1/reviews', token, payload: { rating: 5, title: 'Fine', body: 'Arrived quickly, works well.' } },
      { method: 'GET', url: '/products?sort=price&order=desc' },
      { method: 'GET', url: '/products/p-1/reviews?limit=50' },
    ] as const) {
      const res = await gw.request(c)
      assert.notEqual(res.statusCode, 400, `${c.method} ${c.url}: ${res.body}`)
    }
    // Refused at the edge as the service would: the old review shape, a page the service caps at 50.
    for (const c of [
      { method: 'POST', url: '/products/p-1/reviews', token, payload: { rating: 5, text: 'the old field' } },
      { method: 'GET', url: '/products/p-1/reviews?limit=51' },
    ] as const) {
      const res = await gw.request(c)
      assert.equal(res.statusCode, 400, `${c.method} ${c.url}: ${res.body}`)
      assert.equal(res.json().code, 'VALIDATION_FAILED')
    }
  })

  test('a buyer token is verified once, then answered from the verified-token cache (ADR 0022)', async () => {
    const token = await gw.buyerToken('cached-buyer')
    const [verified, hits] = [
      await gw.metric('gateway_token_verifications_total', { result: 'verified' }),
      await gw.metric('gateway_token_verifications_total', { result: 'hit' }),
    ]
    for (let i = 0; i < 3; i++) assert.equal((await gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, token })).statusCode, 200)
    assert.equal(await gw.metric('gateway_token_verifications_total', { result: 'verified' }), verified + 1)
    assert.equal(await gw.metric('gateway_token_verifications_total', { result: 'hit' }), hits + 2)
    assert.match(order.last()?.headers.authorization ?? '', /^Bearer /, 'the token itself is still forwarded (ADR 0019)')
  })

  test('a forged token (signed with another key) is refused with 401 on any route and never forwarded', async () => {
    const other = await generateSigningKeys()
    const forged = await (await createTokenIssuer(other.privateJwk)).issue({ userId: 'alice', roles: ['admin', 'buyer'] })
    const before = order.total() + catalog.total()
    for (const req of [
      { method: 'GET', url: `/orders/${ORDER_ID}` },
      { method: 'GET', url: '/products/p-1' },
      { method: 'POST', url: '/admin/degradation', payload: { mode: 'on' } },
    ] as const) {
      const res = await gw.request({ ...req, token: forged })
      assert.equal(res.statusCode, 401, `${req.method} ${req.url}`)
      assert.equal(res.json().code, 'GATEWAY_ERR_INVALID_TOKEN')
      assert.match(String(res.headers['www-authenticate']), /^Bearer/)
    }
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice","roles":["admin"]}').toString('base64url')}.x`
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', token: unsigned })).statusCode, 401)
    assert.equal(order.total() + catalog.total(), before)
    assert.ok((await gw.metric('gateway_auth_rejected_total', { reason: 'invalid_token' })) >= 4)
  })

  test('a user route without a token answers 401 AUTH_ERR_UNAUTHENTICATED; a public route does not need one', async () => {
    const res = await gw.request({ method: 'GET', url: `/orders/${ORDER_ID}` })
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'AUTH_ERR_UNAUTHENTICATED')
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1' })).statusCode, 200)
  })

  test('a blocked address or range gets 403 (POST /admin/blocklist), other addresses pass, and DELETE lifts it', async () => {
    const admin = await gw.adminToken()
    const add = await gw.request({ method: 'POST', url: '/admin/blocklist', token: admin, ip: '10.0.0.1', payload: { cidr: '203.0.113.0/24' } })
    assert.equal(add.statusCode, 201, add.body)
    assert.equal(add.json().cidr, '203.0.113.0/24')
    const hitsBefore = catalog.total()
    const blocked = await gw.request({ method: 'GET', url: '/products/p-1', ip: '203.0.113.77' })
    assert.equal(blocked.statusCode, 403)
    assert.equal(blocked.json().code, 'GATEWAY_ERR_BLOCKED')
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', ip: '::ffff:203.0.113.8' })).statusCode, 403, 'IPv4-mapped IPv6 matches too')
    assert.equal(catalog.total(), hitsBefore)
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', ip: '198.51.100.1' })).statusCode, 200)
    assert.deepEqual(await gw.redis.smembers('gateway:blocklist'), ['203.0.113.0/24'], 'shared through Redis')

    assert.equal((await gw.request({ method: 'POST', url: '/admin/blocklist', token: admin, ip: '10.0.0.1', payload: { cidr: 'not-an-ip' } })).statusCode, 400)
    const del = await gw.request({ method: 'DELETE', url: '/admin/blocklist?cidr=203.0.113.0/24', token: admin, ip: '10.0.0.1' })
    assert.equal(del.statusCode, 200)
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', ip: '203.0.113.77' })).statusCode, 200)
  })

  test('the blocklist admin needs the admin role', async () => {
    const res = await gw.request({ method: 'POST', url: '/admin/blocklist', token: await gw.buyerToken('bob'), payload: { cidr: '192.0.2.1' } })
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'AUTH_ERR_FORBIDDEN')
  })

  test('one address acting for many user ids without an Accept header is blocked as a bot (403 with its reasons)', async () => {
    const ip = '192.0.2.50'
    let last
    for (let i = 0; i < 5; i++) {
      last = await gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, ip, token: await gw.buyerToken(`scalper-${i}`), headers: { accept: '' } })
    }
    assert.equal(last!.statusCode, 403)
    assert.equal(last!.json().code, 'GATEWAY_ERR_BOT_BLOCKED')
    assert.deepEqual(last!.json().reasons, ['many_users', 'no_accept'])
    assert.equal((await gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, ip: '192.0.2.51', token: await gw.buyerToken('honest') })).statusCode, 200)
    assert.ok((await gw.metric('gateway_blocked_total', { reason: 'bot' })) >= 1)
  })
})

describe('rate limits at the gateway (GCRA in Redis)', () => {
  let gw: Gateway
  let catalog: TestUpstream
  let order: TestUpstream
  before(async () => {
    ;[catalog, order] = await Promise.all([startUpstream('catalog-1'), startUpstream('order-1')])
    // One request per 100 s after the burst: the test never waits long enough for a token to come back.
    gw = await startGateway('ratelimit', {
      upstreams: { catalog: [catalog.url], order: [order.url] },
      env: { RATE_PER_IP_PER_SECOND: '0.01', RATE_PER_IP_BURST: '2', RATE_PER_USER_PER_SECOND: '0.01', RATE_PER_USER_BURST: '1' },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([catalog.kill(), order.kill()])
  })

  test('per IP: burst + 1 requests pass, the next gets 429 with Retry-After, RateLimit and RateLimit-Policy', async () => {
    const ip = '198.51.100.7'
    for (let i = 0; i < 3; i++) {
      const ok = await gw.request({ method: 'GET', url: '/products/p-1', ip })
      assert.equal(ok.statusCode, 200)
      assert.equal(ok.headers['ratelimit-policy'], '"per-ip";q=3;w=300')
      assert.match(String(ok.headers['ratelimit']), new RegExp(`^"per-ip";r=${2 - i};t=\\d+$`))
    }
    const hits = catalog.total()
    const limited = await gw.request({ method: 'GET', url: '/products/p-1', ip })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.json().code, 'GATEWAY_ERR_RATE_LIMITED')
    assert.equal(limited.json().scope, 'ip')
    assert.ok(Number(limited.headers['retry-after']) >= 1)
    assert.match(String(limited.headers['ratelimit']), /^"per-ip";r=0;t=\d+$/)
    assert.equal(catalog.total(), hits, 'the refused request never reached the upstream')
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', ip: '198.51.100.8' })).statusCode, 200, 'another address has its own quota')
    assert.equal(await gw.metric('gateway_rate_limited_total', { scope: 'ip', source: 'redis' }), 1)
  })

  test('per user: a user over the limit gets 429 from any address, another user is still served', async () => {
    const alice = await gw.buyerToken('alice')
    const url = `/orders/${ORDER_ID}`
    assert.equal((await gw.request({ method: 'GET', url, token: alice, ip: '10.1.0.1' })).statusCode, 200)
    assert.equal((await gw.request({ method: 'GET', url, token: alice, ip: '10.1.0.2' })).statusCode, 200)
    const limited = await gw.request({ method: 'GET', url, token: alice, ip: '10.1.0.3' })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.json().scope, 'user')
    assert.match(String(limited.headers['ratelimit-policy']), /^"per-user";q=2;w=200$/)
    assert.equal((await gw.request({ method: 'GET', url, token: await gw.buyerToken('carol'), ip: '10.1.0.4' })).statusCode, 200)
  })
})

describe('bot throttling', () => {
  let gw: Gateway
  let catalog: TestUpstream
  before(async () => {
    catalog = await startUpstream('catalog-1')
    // Burst of 10 per IP; a throttled client pays 5 per request, so it gets 2 where others get 11.
    gw = await startGateway('botthrottle', {
      upstreams: { catalog: [catalog.url] },
      env: { RATE_PER_IP_PER_SECOND: '0.01', RATE_PER_IP_BURST: '10', BOT_THROTTLE_COST: '5' },
    })
  })
  after(async () => {
    await gw.close()
    await catalog.kill()
  })

  test('a client without User-Agent and Accept is throttled: it runs out of its per-IP quota five times faster', async () => {
    const served = async (ip: string, headers: Record<string, string>) => {
      let n = 0
      while (n < 20 && (await gw.request({ method: 'GET', url: '/products/p-1', ip, headers })).statusCode === 200) n++
      return n
    }
    assert.equal(await served('192.0.2.10', {}), 11)
    assert.equal(await served('192.0.2.11', { accept: '', 'user-agent': '' }), 2)
    assert.ok((await gw.metric('gateway_bot_verdicts_total', { action: 'throttle' })) >= 2)
  })
})
