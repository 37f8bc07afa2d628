import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { json, startGateway, startUpstream, type Gateway, type TestUpstream } from './helpers.ts'

describe('degradation of non-core routes', () => {
  let gw: Gateway
  let review: TestUpstream
  let catalog: TestUpstream
  before(async () => {
    ;[review, catalog] = await Promise.all([startUpstream('review-1'), startUpstream('catalog-1')])
    review.setHandler((req, res) => json(res, 200, { reviews: [{ rating: 5 }], url: req.url }))
    gw = await startGateway('degradation', { upstreams: { review: [review.url], catalog: [catalog.url] } })
  })
  after(async () => {
    await gw.close()
    await Promise.all([review.kill(), catalog.kill()])
  })

  const setMode = async (mode: string) => {
    const res = await gw.request({ method: 'POST', url: '/admin/degradation', token: await gw.adminToken(), payload: { mode } })
    assert.equal(res.statusCode, 200, res.body)
    return res.json()
  }

  test('switched on by hand: a non-core GET seen before is served stale, one never seen gets 503 with a degraded marker, core is untouched', async () => {
    const fresh = await gw.request({ method: 'GET', url: '/products/p-1/reviews' })
    assert.equal(fresh.statusCode, 200)
    assert.equal(review.total(), 1)

    assert.deepEqual(await setMode('on'), { mode: 'on', degraded: true, reason: 'manual' })
    assert.equal(await gw.metric('gateway_degraded'), 1)

    const stale = await gw.request({ method: 'GET', url: '/products/p-1/reviews' })
    assert.equal(stale.statusCode, 200)
    assert.equal(stale.headers['x-gateway-degraded'], 'stale')
    assert.deepEqual(stale.json(), fresh.json())
    assert.equal(review.total(), 1, 'the review service was not called')

    const cold = await gw.request({ method: 'GET', url: '/products/p-2/reviews' })
    assert.equal(cold.statusCode, 503)
    assert.equal(cold.json().code, 'GATEWAY_ERR_DEGRADED')
    assert.equal(cold.json().degraded, true)
    assert.ok(Number(cold.headers['retry-after']) >= 1)
    assert.equal(review.total(), 1)

    const core = await gw.request({ method: 'GET', url: '/products/p-1' })
    assert.equal(core.statusCode, 200, 'core routes are untouched')
    assert.equal(catalog.total(), 1)
    assert.equal(await gw.metric('gateway_degraded_answers_total', { answer: 'stale' }), 1)
    assert.equal(await gw.metric('gateway_degraded_answers_total', { answer: 'unavailable' }), 1)
  })

  test('switched off by hand it stays off whatever the load; auto follows the signals again', async () => {
    assert.deepEqual(await setMode('off'), { mode: 'off', degraded: false, reason: 'manual' })
    const before = review.total()
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-2/reviews' })).statusCode, 200)
    assert.equal(review.total(), before + 1)
    assert.equal(await gw.metric('gateway_degradation_mode', { mode: 'off' }), 1)
    assert.equal((await setMode('auto')).degraded, false)
  })

  test('a bad mode is a 400, and a buyer cannot switch it', async () => {
    assert.equal((await gw.request({ method: 'POST', url: '/admin/degradation', token: await gw.adminToken(), payload: { mode: 'maybe' } })).statusCode, 400)
    assert.equal((await gw.request({ method: 'POST', url: '/admin/degradation', token: await gw.buyerToken('bob'), payload: { mode: 'on' } })).statusCode, 403)
  })
})

describe('automatic degradation from load signals', () => {
  let elu = 0.1
  let gw: Gateway
  let review: TestUpstream
  let catalog: TestUpstream
  before(async () => {
    ;[review, catalog] = await Promise.all([startUpstream('review-1'), startUpstream('catalog-1')])
    // The ELU the sampler reads is set by the test (a busy test machine must not change the outcome);
    // the p99 thresholds are out of reach. Breaker, outlier ejection and retries stay out of the way.
    gw = await startGateway('autodegrade', {
      upstreams: { review: [review.url], catalog: [catalog.url] },
      elu: () => elu,
      env: {
        DEGRADE_ENTER_ELU: '0.9',
        DEGRADE_LEAVE_ELU: '0.7',
        DEGRADE_ENTER_P99_MS: '600000',
        DEGRADE_LEAVE_P99_MS: '600000',
        DEGRADE_ENTER_ERROR_RATE: '0.5',
        DEGRADE_LEAVE_ERROR_RATE: '0.3',
        DEGRADE_ENTER_AFTER_MS: '3000',
        DEGRADE_LEAVE_AFTER_MS: '10000',
        BREAKER_MINIMUM_CALLS: '100000',
        OUTLIER_CONSECUTIVE_FAILURES: '100000',
        RETRY_MAX_ATTEMPTS: '1',
      },
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([review.kill(), catalog.kill()])
  })

  const traffic = async (n: number) => {
    for (let i = 0; i < n; i++) await gw.request({ method: 'GET', url: '/products/p-1' })
  }

  test('upstream errors above the enter rate for the enter time degrade non-core routes; a calm leave time brings them back', async () => {
    const { sampleLoad } = gw.app.gateway
    catalog.setHandler((_req, res) => json(res, 500, { code: 'INTERNAL' }))
    await traffic(20)
    assert.equal(sampleLoad(0).degraded, false, 'one bad interval is not enough')
    await traffic(20)
    const entered = sampleLoad(3_000)
    assert.deepEqual(entered, { mode: 'auto', degraded: true, reason: 'error_rate' })
    assert.equal(await gw.metric('gateway_degraded'), 1)
    const shed = await gw.request({ method: 'GET', url: '/products/p-9/reviews' })
    assert.equal(shed.statusCode, 503, shed.body)
    assert.equal(shed.json().degraded, true)
    assert.equal(review.total(), 0)

    catalog.setHandler((_req, res) => json(res, 200, { ok: true }))
    await traffic(20)
    assert.equal(sampleLoad(4_000).degraded, true, 'calm has only just started')
    assert.equal((await gw.metric('gateway_load_signal', { signal: 'error_rate' })) < 0.3, true, 'the calm interval was calm')
    await traffic(20)
    assert.equal(sampleLoad(9_000).degraded, true, 'still inside the leave time')
    await traffic(20)
    assert.equal(sampleLoad(14_000).degraded, false)
    const back = await gw.request({ method: 'GET', url: '/products/p-9/reviews' })
    assert.equal(back.statusCode, 200, back.body)
    assert.equal(await gw.metric('gateway_degradation_changes_total', { state: 'degraded', reason: 'error_rate' }), 1)
  })

  test('event-loop utilization above the enter threshold degrades too, and between the thresholds it stays degraded', async () => {
    const { sampleLoad } = gw.app.gateway
    elu = 0.95
    sampleLoad(100_000)
    assert.deepEqual(sampleLoad(103_000), { mode: 'auto', degraded: true, reason: 'elu' })
    elu = 0.8
    assert.equal(sampleLoad(200_000).degraded, true, 'below enter, above leave: no flapping')
    elu = 0.1
    sampleLoad(201_000)
    assert.equal(sampleLoad(211_000).degraded, false)
    assert.equal(await gw.metric('gateway_load_signal', { signal: 'elu' }), 0.1)
  })
})
