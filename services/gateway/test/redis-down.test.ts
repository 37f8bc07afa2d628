import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { redisThrough, startGateway, startUpstream, waitFor, type Gateway, type TestUpstream } from './helpers.ts'

describe('rate limits when Redis is down (ADR 0013: fail open onto the local limiter)', () => {
  let gw: Gateway
  let catalog: TestUpstream
  let proxy: TestProxy
  before(async () => {
    catalog = await startUpstream('catalog-1')
    proxy = await createTestProxy('gw_redis', (await getInfra()).redisUrl)
    gw = await startGateway('redisdown', {
      upstreams: { catalog: [catalog.url] },
      // 3 requests at once, then one per 100 s: the local limiter's refusal does not depend on timing.
      env: { RATE_PER_IP_PER_SECOND: '0.01', RATE_PER_IP_BURST: '2', REDIS_COMMAND_TIMEOUT_MS: '200' },
      // The gateway's Redis goes through Toxiproxy, as server.ts configures it: no offline queue, short timeouts.
      redis: redisThrough(proxy),
    })
  })
  after(async () => {
    await gw?.close()
    await catalog?.kill()
    await proxy?.cleanup()
  })

  test('with Redis unreachable requests are still served, and the local limiter still limits', async () => {
    await waitFor(() => gw.redis.status === 'ready', 'the Redis client connected through the proxy')
    await gw.redis.ping()
    assert.equal((await gw.request({ method: 'GET', url: '/products/p-1', ip: '10.9.0.1' })).statusCode, 200)
    assert.equal(await gw.metric('gateway_rate_limit_checks_total', { scope: 'ip', source: 'redis' }), 1)

    await proxy.disable()
    const ip = '10.9.0.2'
    for (let i = 0; i < 3; i++) {
      const res = await gw.request({ method: 'GET', url: '/products/p-1', ip })
      assert.equal(res.statusCode, 200, 'fail-open: served without Redis')
      assert.match(String(res.headers['ratelimit']), /^"per-ip";r=\d+;t=\d+$/)
    }
    const limited = await gw.request({ method: 'GET', url: '/products/p-1', ip })
    assert.equal(limited.statusCode, 429, 'not wide open: the local limiter still limits')
    assert.equal(await gw.metric('gateway_rate_limited_total', { scope: 'ip', source: 'local' }), 1)
    assert.equal(await gw.metric('gateway_rate_limit_checks_total', { scope: 'ip', source: 'local' }), 4)
    assert.equal(catalog.total(), 4)
    await proxy.enable()
  })
})
