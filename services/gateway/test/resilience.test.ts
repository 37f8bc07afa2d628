import assert from 'node:assert/strict'
import { after, afterEach, before, describe, test } from 'node:test'
import { json, startGateway, startUpstream, waitFor, type Gateway, type TestUpstream } from './helpers.ts'

const ORDER_ID = '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b'
const serverError = (_req: unknown, res: Parameters<typeof json>[0]) => json(res, 500, { code: 'INTERNAL', status: 500 })

describe('circuit breaker per upstream', () => {
  let gw: Gateway
  let order: TestUpstream
  before(async () => {
    order = await startUpstream('order-1')
    gw = await startGateway('breaker', {
      upstreams: { order: [order.url] },
      env: { BREAKER_MINIMUM_CALLS: '5', BREAKER_FAILURE_RATE: '0.5', BREAKER_HALF_OPEN_AFTER_MS: '60000', OUTLIER_CONSECUTIVE_FAILURES: '1000' },
    })
  })
  after(async () => {
    await gw.close()
    await order.kill()
  })

  test('after enough upstream 500s the breaker opens and answers a fast 503 without calling the upstream', async () => {
    order.setHandler(serverError)
    const token = await gw.buyerToken('alice')
    const pay = () => gw.request({ method: 'POST', url: `/orders/${ORDER_ID}/pay`, token })
    let passedThrough = 0
    let res = await pay()
    while (res.statusCode === 500 && passedThrough < 20) {
      passedThrough++
      res = await pay()
    }
    assert.equal(res.statusCode, 503, 'the breaker opened')
    assert.ok(passedThrough >= 5, 'not before the minimum number of calls')
    assert.equal(res.json().code, 'GATEWAY_ERR_CIRCUIT_OPEN')
    const retryAfter = Number(res.headers['retry-after'])
    assert.ok(
      retryAfter >= 60 && retryAfter <= 120,
      `Retry-After ${retryAfter}: the half-open wait, jittered up to twice (refused clients do not come back as one wave)`,
    )
    assert.equal(order.total(), passedThrough, 'the refused call never reached the upstream')

    const again = await pay()
    assert.equal(again.statusCode, 503)
    assert.equal(order.total(), passedThrough)
    assert.equal(await gw.metric('gateway_breaker_state', { upstream: 'order' }), 1)
    assert.ok((await gw.metric('gateway_shed_total', { upstream: 'order', reason: 'circuit_open' })) >= 2)
  })
})

describe("an upstream's own 503 + Retry-After is a refusal, not a failure: the breaker stays closed", () => {
  let gw: Gateway
  let order: TestUpstream
  before(async () => {
    order = await startUpstream('order-1')
    gw = await startGateway('breaker_503', {
      upstreams: { order: [order.url] },
      env: { BREAKER_MINIMUM_CALLS: '5', BREAKER_FAILURE_RATE: '0.5', BREAKER_HALF_OPEN_AFTER_MS: '60000', OUTLIER_CONSECUTIVE_FAILURES: '1000' },
    })
  })
  after(async () => {
    await gw.close()
    await order.kill()
  })

  test('every call reaches the service and its problem goes back as it is; without Retry-After a 503 counts as before', async () => {
    // What the order API answers while PostgreSQL or Redis fails over (ADR 0028): it is up, and says so.
    order.setHandler((_req, res) => {
      res.setHeader('retry-after', '1')
      json(res, 503, { code: 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE', status: 503 })
    })
    const token = await gw.buyerToken('alice')
    const pay = () => gw.request({ method: 'POST', url: `/orders/${ORDER_ID}/pay`, token })
    for (let i = 0; i < 20; i++) {
      const res = await pay()
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE', `call ${i} was answered by the service`)
    }
    assert.equal(order.total(), 20)
    assert.equal(await gw.metric('gateway_breaker_state', { upstream: 'order' }), 0, 'closed')

    order.setHandler((_req, res) => json(res, 503, { code: 'SOMETHING_BROKE', status: 503 }))
    let res = await pay()
    for (let i = 0; i < 20 && res.json().code === 'SOMETHING_BROKE'; i++) res = await pay()
    assert.equal(res.json().code, 'GATEWAY_ERR_CIRCUIT_OPEN', 'a bare 503 is still a failure of the upstream')
  })
})

describe('retries', () => {
  let gw: Gateway
  let order: TestUpstream
  let catalog: TestUpstream
  before(async () => {
    ;[order, catalog] = await Promise.all([startUpstream('order-1'), startUpstream('catalog-1')])
    gw = await startGateway('retries', {
      upstreams: { order: [order.url], catalog: [catalog.url] },
      env: { RETRY_MAX_ATTEMPTS: '3', BREAKER_MINIMUM_CALLS: '100000', OUTLIER_CONSECUTIVE_FAILURES: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([order.kill(), catalog.kill()])
  })
  afterEach(() => {
    order.hits.clear()
    catalog.hits.clear()
  })

  test('a GET that keeps failing with 500 is tried 3 times, then the last 500 goes back to the client', async () => {
    catalog.setHandler(serverError)
    const res = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(res.statusCode, 500)
    assert.equal(catalog.total(), 3)
  })

  test('a GET that fails once is answered by the retry', async () => {
    let calls = 0
    catalog.setHandler((_req, res) => (++calls === 1 ? serverError(_req, res) : json(res, 200, { ok: true })))
    const res = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(res.statusCode, 200)
    assert.equal(catalog.total(), 2)
  })

  test('a POST is never retried, even on a 500', async () => {
    order.setHandler(serverError)
    const res = await gw.request({ method: 'POST', url: `/orders/${ORDER_ID}/pay`, token: await gw.buyerToken('alice') })
    assert.equal(res.statusCode, 500)
    assert.equal(order.total(), 1)
    assert.ok((await gw.metric('gateway_retry_give_ups_total', { upstream: 'order', reason: 'not_idempotent' })) >= 1)
  })

  test("a GET answered 503 + Retry-After is not retried: the service's refusal goes back at once, within the budget", async () => {
    // The order API behind a lock (make chaos-pool-exhaustion) answered its history reads 503 after ~600 ms;
    // retried on its sibling, which waits on the same database, each read ran past the gateway's 1 s budget:
    // a 504, counted by the breaker, whose opening then refused POST /orders too.
    catalog.setHandler((_req, res) => {
      res.setHeader('retry-after', '1')
      json(res, 503, { code: 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE', status: 503 })
    })
    const res = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE')
    assert.ok(res.headers['retry-after'], 'the Retry-After reaches the client')
    assert.equal(catalog.total(), 1)
  })

  test('a 4xx is never retried', async () => {
    catalog.setHandler((_req, res) => json(res, 404, { code: 'NOT_FOUND', status: 404 }))
    const res = await gw.request({ method: 'GET', url: '/products/p-404' })
    assert.equal(res.statusCode, 404)
    assert.equal(catalog.total(), 1)
  })
})

describe('the retry budget bounds retries across requests', () => {
  let gw: Gateway
  let catalog: TestUpstream
  before(async () => {
    catalog = await startUpstream('catalog-1')
    // ratio 0 and 0.2 retries/s over the 10 s window: exactly 2 retries in the whole test.
    gw = await startGateway('budget', {
      upstreams: { catalog: [catalog.url] },
      env: { RETRY_BUDGET_RATIO: '0', RETRY_BUDGET_MIN_PER_SECOND: '0.2', BREAKER_MINIMUM_CALLS: '100000', OUTLIER_CONSECUTIVE_FAILURES: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await catalog.kill()
  })

  test('5 failing GETs make 5 + 2 upstream calls, not 5 × 3', async () => {
    catalog.setHandler(serverError)
    for (let i = 0; i < 5; i++) assert.equal((await gw.request({ method: 'GET', url: '/products/p-1' })).statusCode, 500)
    assert.equal(catalog.total(), 7)
    assert.equal(await gw.metric('gateway_retries_total', { upstream: 'catalog' }), 2)
    assert.ok((await gw.metric('gateway_retry_give_ups_total', { upstream: 'catalog', reason: 'budget_exhausted' })) >= 3)
  })
})

describe('backpressure: a concurrency limit per upstream with priority shedding', () => {
  let gw: Gateway
  let order: TestUpstream
  const held: Array<() => void> = []
  before(async () => {
    order = await startUpstream('order-1')
    order.setHandler((_req, res) => new Promise<void>((resolve) => held.push(() => resolve(json(res, 200, { ok: true })))))
    // Limit 2, non-core may use half of it, no queue: refusals are immediate.
    gw = await startGateway('backpressure', {
      upstreams: { order: [order.url] },
      env: { LIMIT_ALGORITHM: 'fixed', LIMIT_INITIAL: '2', LIMIT_QUEUE: '0', LIMIT_NON_CORE_SHARE: '0.5', RETRY_MAX_ATTEMPTS: '1' },
    })
  })
  after(async () => {
    for (const release of held.splice(0)) release()
    await gw.close()
    await order.kill()
  })

  test('non-core is shed first while core is still admitted; at the limit core gets a fast 503 with Retry-After too', async () => {
    const token = await gw.buyerToken('alice')
    const history = () => gw.request({ method: 'GET', url: '/users/me/orders', token })
    const status = () => gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, token })

    const firstNonCore = history()
    await waitFor(() => order.inflight() === 1, 'the first non-core request held by the upstream')
    const shedNonCore = await history()
    assert.equal(shedNonCore.statusCode, 503, 'non-core is at its share of the limit')
    assert.equal(shedNonCore.json().code, 'GATEWAY_ERR_OVERLOADED')
    assert.ok(['1', '2'].includes(String(shedNonCore.headers['retry-after'])), `Retry-After ${shedNonCore.headers['retry-after']}: 1 s, jittered`)

    const core = status()
    await waitFor(() => order.inflight() === 2, 'the core request admitted beside it')
    const shedCore = await status()
    assert.equal(shedCore.statusCode, 503, 'core is refused only at the full limit')
    assert.equal(order.inflight(), 2, 'refused requests never reached the upstream')

    for (const release of held.splice(0)) release()
    assert.equal((await firstNonCore).statusCode, 200)
    assert.equal((await core).statusCode, 200)
    assert.equal(await gw.metric('gateway_shed_total', { upstream: 'order', priority: 'non-core', reason: 'limit' }), 1)
    assert.equal(await gw.metric('gateway_shed_total', { upstream: 'order', priority: 'core', reason: 'limit' }), 1)
    assert.equal(await gw.metric('gateway_concurrency_limit', { upstream: 'order' }), 2)
    // Refused before the rate limits: a doomed request costs no Redis round trip. The two admitted were checked.
    assert.equal(await gw.metric('gateway_rate_limit_checks_total', { scope: 'user' }), 2)
  })
})

describe('the queue for a slot is measured: gateway_queue_length', () => {
  let gw: Gateway
  let order: TestUpstream
  const held: Array<() => void> = []
  before(async () => {
    order = await startUpstream('order-1')
    order.setHandler((_req, res) => new Promise<void>((resolve) => held.push(() => resolve(json(res, 200, { ok: true })))))
    gw = await startGateway('queue-length', {
      upstreams: { order: [order.url] },
      env: { LIMIT_ALGORITHM: 'fixed', LIMIT_INITIAL: '1', LIMIT_QUEUE: '10', RETRY_MAX_ATTEMPTS: '1' },
    })
  })
  after(async () => {
    for (const release of held.splice(0)) release()
    await gw.close()
    await order.kill()
  })

  test('requests waiting behind a full limit are counted while they wait, and no longer once served', async () => {
    const token = await gw.buyerToken('alice')
    const status = () => gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, token })
    assert.equal(await gw.metric('gateway_queue_length', { upstream: 'order' }), 0)
    const first = status()
    await waitFor(() => order.inflight() === 1, 'the first request holds the only slot')
    const waiting = [status(), status()]
    await waitFor(async () => (await gw.metric('gateway_queue_length', { upstream: 'order' })) === 2, 'two requests queued for the slot')
    while (held.length > 0 || order.inflight() > 0) {
      for (const release of held.splice(0)) release()
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.equal((await first).statusCode, 200)
    // Served, or (on a loaded machine, when the waits outlast the route's budget) refused by the queue: either
    // way they no longer wait, and the gauge says so.
    for (const r of await Promise.all(waiting)) assert.ok([200, 503, 504].includes(r.statusCode), `answered: ${r.statusCode}`)
    assert.equal(await gw.metric('gateway_queue_length', { upstream: 'order' }), 0)
  })
})

describe('half-open probes close the breaker again', () => {
  let gw: Gateway
  let order: TestUpstream
  before(async () => {
    order = await startUpstream('order-1')
    gw = await startGateway('halfopen', {
      upstreams: { order: [order.url] },
      env: { BREAKER_MINIMUM_CALLS: '5', BREAKER_FAILURE_RATE: '0.5', BREAKER_HALF_OPEN_AFTER_MS: '200', OUTLIER_CONSECUTIVE_FAILURES: '1000' },
    })
  })
  after(async () => {
    await gw.close()
    await order.kill()
  })

  test('once the upstream recovers, the probes after the open time succeed and the breaker closes', async () => {
    const token = await gw.buyerToken('alice')
    const pay = () => gw.request({ method: 'POST', url: `/orders/${ORDER_ID}/pay`, token })
    order.setHandler(serverError)
    for (let i = 0; i < 20 && (await pay()).statusCode !== 503; i++);
    assert.equal(await gw.metric('gateway_breaker_state', { upstream: 'order' }), 1, 'open')
    order.setHandler((_req, res) => json(res, 200, { paid: true }))
    await waitFor(async () => (await pay()).statusCode === 200, 'a probe let through after the open time')
    // Half-open lets 5 probes through; all must succeed before it closes.
    await waitFor(async () => {
      await pay()
      return (await gw.metric('gateway_breaker_state', { upstream: 'order' })) === 0
    }, 'the breaker closed after its probes')
    assert.equal((await pay()).statusCode, 200)
    assert.ok((await gw.metric('gateway_breaker_transitions_total', { upstream: 'order', state: 'half-open' })) >= 1)
  })
})

describe('latency budget per route', () => {
  let gw: Gateway
  let catalog: TestUpstream
  before(async () => {
    catalog = await startUpstream('catalog-1')
    catalog.setHandler(() => new Promise(() => {})) // never answers
    gw = await startGateway('budgetms', {
      upstreams: { catalog: [catalog.url] },
      timeoutMs: 300,
      env: { BREAKER_MINIMUM_CALLS: '100000', OUTLIER_CONSECUTIVE_FAILURES: '100000' },
    })
  })
  after(async () => {
    await gw.close()
    await catalog.kill()
  })

  test('an upstream that does not answer within the route budget gets 504 GATEWAY_ERR_UPSTREAM_TIMEOUT; retries stay inside the budget', async () => {
    const res = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(res.statusCode, 504)
    assert.equal(res.json().code, 'GATEWAY_ERR_UPSTREAM_TIMEOUT')
    assert.ok(catalog.total() >= 1 && catalog.total() <= 3)
    assert.ok((await gw.metric('gateway_upstream_request_duration_seconds_count', { upstream: 'catalog', outcome: 'timeout' })) >= 1)
  })
})
