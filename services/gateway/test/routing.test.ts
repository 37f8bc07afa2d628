import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { json, startGateway, startUpstream, waitFor, type Gateway, type TestUpstream } from './helpers.ts'

describe('routing to the upstream named by the route table', () => {
  let gw: Gateway
  let order: TestUpstream
  let catalog: TestUpstream
  let inventory: TestUpstream
  before(async () => {
    ;[order, catalog, inventory] = await Promise.all([startUpstream('order-1'), startUpstream('catalog-1'), startUpstream('inventory-1')])
    gw = await startGateway('routing', { upstreams: { order: [order.url], catalog: [catalog.url], inventory: [inventory.url] } })
  })
  after(async () => {
    await gw.close()
    await Promise.all([order.kill(), catalog.kill(), inventory.kill()])
  })

  test('GET /products/:id goes to catalog, GET /sales to inventory, with path and query unchanged', async () => {
    const p = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(p.statusCode, 200)
    assert.equal(p.json().instance, 'catalog-1')
    const s = await gw.request({ method: 'GET', url: '/sales?sku=SKU-000001' })
    assert.equal(s.statusCode, 200)
    assert.deepEqual(s.json(), { instance: 'inventory-1', method: 'GET', url: '/sales?sku=SKU-000001' })
    assert.equal(order.total(), 0)
  })

  test('GET /sales/active goes to catalog (not to inventory as a sale id); GET /sales without a sku is refused before any upstream', async () => {
    const active = await gw.request({ method: 'GET', url: '/sales/active?sku=SKU-000001,SKU-000002' })
    assert.equal(active.statusCode, 200)
    assert.equal(active.json().instance, 'catalog-1')
    const before = inventory.total()
    const bad = await gw.request({ method: 'GET', url: '/sales?status=active' })
    assert.equal(bad.statusCode, 400)
    assert.equal(inventory.total(), before)
  })

  test('POST /orders reaches the order service with the body, the bearer token and the idempotency key, and without a client-supplied x-user-id', async () => {
    const token = await gw.buyerToken('alice')
    const res = await gw.request({
      method: 'POST',
      url: '/orders',
      token,
      headers: { 'idempotency-key': 'k-1', 'x-user-id': 'mallory' },
      payload: { sku: 'SKU-1', qty: 1 },
    })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().instance, 'order-1')
    const seen = order.last()!
    assert.deepEqual(JSON.parse(seen.body), { sku: 'SKU-1', qty: 1 })
    assert.equal(seen.headers.authorization, `Bearer ${token}`)
    assert.equal(seen.headers['idempotency-key'], 'k-1')
    assert.equal(seen.headers['x-user-id'], undefined)
    assert.ok(seen.headers['x-request-id'])
  })

  test('an upstream 4xx problem comes back to the client as it is', async () => {
    catalog.setHandler((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' })
      res.end(JSON.stringify({ code: 'CATALOG_ERR_UNKNOWN_PRODUCT', status: 404 }))
    })
    const res = await gw.request({ method: 'GET', url: '/products/nope' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'CATALOG_ERR_UNKNOWN_PRODUCT')
    assert.match(String(res.headers['content-type']), /problem\+json/)
  })
})

describe('balancing across two instances', () => {
  let gw: Gateway
  let a: TestUpstream
  let b: TestUpstream
  before(async () => {
    ;[a, b] = await Promise.all([startUpstream('catalog-a'), startUpstream('catalog-b')])
    gw = await startGateway('balancing', {
      upstreams: { catalog: [a.url, b.url] },
      balancing: { catalog: 'round-robin' },
      env: { HEALTH_CHECK_INTERVAL_MS: '50', HEALTH_UNHEALTHY_THRESHOLD: '2', HEALTH_HEALTHY_THRESHOLD: '1' },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([a.kill(), b.kill()])
  })

  const catalogSnapshot = () => gw.app.gateway.upstreams.get('catalog')!.snapshot().instances
  const available = (u: TestUpstream) => catalogSnapshot().find((i) => i.url === u.url)!.available

  test('round-robin sends the same number of requests to each instance', async () => {
    a.hits.clear()
    b.hits.clear()
    for (let i = 0; i < 10; i++) assert.equal((await gw.request({ method: 'GET', url: '/products/p-1' })).statusCode, 200)
    assert.equal(a.total(), 5)
    assert.equal(b.total(), 5)
  })

  test('when an instance dies, GETs fail over to the other and it is ejected; when it comes back it gets traffic again', async () => {
    await b.kill()
    for (let i = 0; i < 10; i++) {
      const res = await gw.request({ method: 'GET', url: '/products/p-2' })
      assert.equal(res.statusCode, 200, 'a retry on the other instance answers')
      assert.equal(res.json().instance, 'catalog-a')
    }
    await waitFor(() => !available(b), 'the dead instance to be ejected')
    assert.ok((await gw.metric('gateway_instance_ejections_total', { upstream_instance: new URL(b.url).host })) >= 1)

    await b.revive()
    await waitFor(() => available(b), 'the revived instance to fail back')
    b.hits.clear()
    for (let i = 0; i < 10; i++) assert.equal((await gw.request({ method: 'GET', url: '/products/p-3' })).statusCode, 200)
    assert.ok(b.total() > 0, 'the revived instance gets requests again')
  })

  test('an instance whose /health/ready fails is taken out of rotation by the active health check, and put back when it passes', async () => {
    await waitFor(() => available(a) && available(b), 'both instances available')
    a.setHealthy(false)
    await waitFor(() => !available(a), 'health check ejection of instance a')
    a.hits.clear()
    b.hits.clear()
    for (let i = 0; i < 6; i++) assert.equal((await gw.request({ method: 'GET', url: '/products/p-4' })).statusCode, 200)
    assert.equal(a.total(), 0, 'no request reaches the ejected instance')
    assert.equal(b.total(), 6)
    assert.equal(await gw.metric('gateway_instance_available', { upstream_instance: new URL(a.url).host }), 0)

    a.setHealthy(true)
    await waitFor(() => available(a), 'instance a back after passing its health check')
    a.hits.clear()
    for (let i = 0; i < 6; i++) await gw.request({ method: 'GET', url: '/products/p-5' })
    assert.equal(a.total(), 3)
  })
})

describe('one dead instance of two does not open the upstream breaker', () => {
  let gw: Gateway
  let a: TestUpstream
  let b: TestUpstream
  before(async () => {
    ;[a, b] = await Promise.all([startUpstream('catalog-a'), startUpstream('catalog-b')])
    // No health checks and no passive ejection: the dead instance stays in rotation, so every second
    // request meets it and only the retry on the live one answers. Breaker defaults: 5%, 20 calls.
    gw = await startGateway('dead-instance-breaker', {
      upstreams: { catalog: [a.url, b.url] },
      balancing: { catalog: 'round-robin' },
      env: { HEALTH_CHECK_INTERVAL_MS: '0', OUTLIER_CONSECUTIVE_FAILURES: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([a.kill(), b.kill()])
  })

  test('GETs that fail on the dead instance and succeed on the retry are successes to the breaker', async () => {
    await b.kill()
    for (let i = 0; i < 40; i++) {
      const res = await gw.request({ method: 'GET', url: '/products/p-9' })
      assert.equal(res.statusCode, 200, `request ${i}: ${res.body}`)
      assert.equal(res.json().instance, 'catalog-a')
    }
    assert.equal(a.total(), 40)
    assert.ok((await gw.metric('gateway_retries_total', { upstream: 'catalog' })) >= 15, 'about half the requests met the dead instance first')
    assert.equal(await gw.metric('gateway_breaker_state', { upstream: 'catalog' }), 0, 'closed')
    assert.equal(await gw.metric('gateway_breaker_transitions_total', { upstream: 'catalog' }), 0)
  })
})

describe('when every instance is out', () => {
  let gw: Gateway
  let only: TestUpstream
  before(async () => {
    only = await startUpstream('review-only')
    gw = await startGateway('panic-routing', {
      upstreams: { review: [only.url] },
      // Health checks run when a test calls them: a passing check would end the outlier ejection early.
      env: { HEALTH_CHECK_INTERVAL_MS: '0', HEALTH_UNHEALTHY_THRESHOLD: '2', OUTLIER_CONSECUTIVE_FAILURES: '3', BREAKER_MINIMUM_CALLS: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await only.kill()
  })

  const ejected = () => gw.app.gateway.upstreams.get('review')!.snapshot().instances[0]!

  test('an instance ejected only for failed calls still gets the requests (panic routing), and the metric counts them', async () => {
    only.setHandler((_req, res) => json(res, 500, { code: 'INTERNAL', status: 500 }))
    // One GET, three attempts (retries), three failures in a row: ejected for 30 s.
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1/reviews' })).statusCode, 500)
    assert.equal(ejected().outlierEjected, true)
    assert.equal(ejected().available, false)

    only.setHandler((_req, res) => json(res, 200, { items: [] }))
    const res = await gw.request({ method: 'GET', url: '/products/p-1/reviews' })
    assert.equal(res.statusCode, 200, `served by the ejected instance rather than refused: ${res.body}`)
    assert.ok((await gw.metric('gateway_panic_routed_total', { upstream: 'review' })) >= 1)
    assert.equal(ejected().outlierEjected, true, 'still ejected; panic routing restores nothing')
  })

  test('an instance that fails its health check is not called: 503 GATEWAY_ERR_NO_INSTANCE with Retry-After', async () => {
    only.setHealthy(false)
    const review = gw.app.gateway.upstreams.get('review')!
    await review.checkHealth()
    await review.checkHealth()
    assert.equal(ejected().healthCheckEjected, true)
    const before = only.total()
    const res = await gw.request({ method: 'GET', url: '/products/p-1/reviews' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'GATEWAY_ERR_NO_INSTANCE')
    assert.ok(res.headers['retry-after'])
    assert.equal(only.total(), before, 'the instance was not called')
  })
})

describe('a POST to an instance that refuses the connection', () => {
  let gw: Gateway
  let a: TestUpstream
  let b: TestUpstream
  before(async () => {
    ;[a, b] = await Promise.all([startUpstream('order-a'), startUpstream('order-b')])
    gw = await startGateway('post-refused', {
      upstreams: { order: [a.url, b.url] },
      balancing: { order: 'round-robin' },
      env: { HEALTH_CHECK_INTERVAL_MS: '0', OUTLIER_CONSECUTIVE_FAILURES: '100000', BREAKER_MINIMUM_CALLS: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([a.kill(), b.kill()])
  })

  test('goes to the other instance (nothing was sent, so it cannot be a second order), exactly once', async () => {
    await a.kill()
    const token = await gw.buyerToken('alice')
    for (let i = 0; i < 4; i++) {
      const res = await gw.request({
        method: 'POST',
        url: '/orders',
        token,
        headers: { 'idempotency-key': `k-refused-${i}` },
        payload: { sku: 'SKU-1', qty: 1 },
      })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().instance, 'order-b')
    }
    assert.equal(b.total(), 4, 'each POST reached the live instance once')
    assert.ok((await gw.metric('gateway_retries_total', { upstream: 'order' })) >= 1)
  })
})
