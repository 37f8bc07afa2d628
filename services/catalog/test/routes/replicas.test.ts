import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestProxy, getInfra, type TestProxy } from '@flashsale/testkit'
import { metricValue, startHarness, waitFor, type Harness } from '../helpers.ts'

describe('catalog reads when the replica dies', () => {
  let h: Harness
  let proxy: TestProxy
  before(async () => {
    const infra = await getInfra()
    proxy = await createTestProxy('catalog_replica', infra.pgReplicaUrls[0] as string)
    // One replica, reached through a Toxiproxy proxy this suite alone can break.
    h = await startHarness('replica_down', { replicaUrls: (urls) => [proxy.rewrite(urls[0] as string)] })
  })
  after(async () => {
    await proxy?.enable().catch(() => {})
    await h?.close()
    await proxy?.cleanup()
  })

  it('lists fall back to the primary while the replica is down, and return to it after', async () => {
    const p = await h.createProduct({ category: 'fallback' })
    const fromPrimary = () => metricValue(h.metrics.registry, 'db_reads_total', { target: 'primary', reason: 'no_healthy_replica' })
    const failedOver = () => metricValue(h.metrics.registry, 'db_reads_total', { target: 'primary', reason: 'replica_error' })
    await waitFor('the replica has the product', async () => (await h.get('/products?category=fallback')).json().products.length === 1)

    await proxy.disable()
    const before = (await fromPrimary()) + (await failedOver())
    for (let i = 0; i < 3; i++) {
      const res = await h.get('/products?category=fallback')
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(
        res.json().products.map((x: { id: string }) => x.id),
        [p.id],
      )
    }
    assert.equal((await fromPrimary()) + (await failedOver()), before + 3, 'every read was answered by the primary')
    assert.equal(h.db.replicaStates()[0]?.healthy, false)

    await proxy.enable()
    await waitFor('the replica back in rotation', () => h.db.replicaStates()[0]?.healthy === true)
    const replica = () => metricValue(h.metrics.registry, 'db_reads_total', { target: 'replica', reason: 'replica' })
    const r0 = await replica()
    assert.equal((await h.get('/products?category=fallback')).statusCode, 200)
    assert.equal(await replica(), r0 + 1)
  })
})
