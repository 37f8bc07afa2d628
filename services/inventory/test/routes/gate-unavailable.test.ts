import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { startHarness, uid, type Harness } from '../helpers.ts'

// The app's Redis goes through a Toxiproxy proxy of this suite, configured as server.ts configures it
// (no offline queue, a command timeout): disabling the proxy is Redis dying, for this app only.
let proxy: TestProxy
let h: Harness
before(async () => {
  proxy = await createTestProxy('inv_redis', (await getInfra()).redisUrl)
  h = await startHarness('gatedown', {
    redis: (prefix, url) =>
      new Redis(proxy.rewrite(url), {
        keyPrefix: prefix,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 300,
        retryStrategy: () => 100,
      }).on('error', () => {}),
  })
})
after(async () => {
  await proxy.enable().catch(() => {})
  await h.close()
  await proxy.cleanup()
})

describe('fail-closed gate', () => {
  it('when Redis is unreachable, reserve answers 503 INVENTORY_ERR_GATE_UNAVAILABLE with Retry-After at once, and reserves again once Redis is back', async () => {
    const saleId = await h.createSale({ totalUnits: 5 })
    assert.equal((await h.reserve('before', { saleId, orderId: uid('b'), qty: 1 })).statusCode, 201)
    const ledgerBefore = await h.ledger(saleId)

    await proxy.disable()
    try {
      for (let i = 0; i < 3; i++) {
        const res = await h.reserve(`during-${i}`, { saleId, orderId: uid('d'), qty: 1 })
        assert.equal(res.statusCode, 503, res.body)
        assert.equal(res.json().code, 'INVENTORY_ERR_GATE_UNAVAILABLE')
        assert.equal(res.json().reason, 'error')
        assert.equal(res.headers['retry-after'], '1')
      }
      // The public view falls back to Postgres and says so (a replica: let it have the sale first).
      await h.testDb.replicated()
      const view = await h.app.inject({ method: 'GET', url: `/sales/${saleId}` })
      assert.equal(view.statusCode, 200)
      assert.equal(view.json().status, 'unavailable')
      // Redis is a shared dependency (ADR 0028): reported at /health/deps, while the instance stays ready
      // and answers its own 503s with their reason rather than being ejected with every other instance.
      const deps = await h.app.inject({ method: 'GET', url: '/health/deps' })
      assert.equal(deps.statusCode, 503)
      assert.equal(deps.json().dependencies.redis.status, 'down')
      assert.equal((await h.app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
    } finally {
      await proxy.enable()
    }

    let res
    for (let i = 0; i < 100; i++) {
      res = await h.reserve('after', { saleId, orderId: uid('a'), qty: 1 })
      if (res.statusCode !== 503) break
      await sleep(50)
    }
    assert.equal(res?.statusCode, 201, res?.body)
    assert.deepEqual(await h.ledger(saleId), ledgerBefore)
    assert.equal((await h.gate(saleId)).available, 3, 'only the two admitted reservations took units')
  })
})
