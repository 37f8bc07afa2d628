/**
 * The Redis server holding the gate changes under the service (here: killed and started again from an older
 * snapshot, as a failover to a replica that missed the last writes would look). The gate must not hand out
 * from the stale counts: it refuses until every open sale is rebuilt from Postgres, then counts what Postgres
 * has sold (store/master-watch.ts, ADR 0029). A redis-server of this test's own, on a free port.
 * Serial: it kills and restarts a server, and waits on reconnections.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { withTransaction } from '@flashsale/db'
import { freePort } from '@flashsale/testkit'
import { startHarness, uid, type Harness } from '../helpers.ts'

describe('the gate after the Redis server changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gate-master-'))
  let port = 0
  let server: ChildProcess | undefined
  let h: Harness
  let admin: { authorization: string }

  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    for (let i = 0; i < 100; i++) {
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      const up = await probe
        .connect()
        .then(() => probe.ping())
        .then(
          () => true,
          () => false,
        )
      probe.disconnect()
      if (up) return
      await sleep(50)
    }
    throw new Error('redis-server did not start')
  }

  before(async () => {
    port = await freePort()
    await startServer()
    // The service's client as server.ts configures it: no offline queue, one retry, reconnects by itself.
    h = await startHarness('master_change', {
      redis: (prefix) => {
        const client = new Redis(port, '127.0.0.1', { keyPrefix: prefix, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 })
        client.on('error', () => {})
        return client
      },
    })
    admin = { authorization: `Bearer ${await h.adminToken()}` }
  })
  after(async () => {
    await h?.close()
    server?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  /** Reserve a unit and persist its order, as the order worker does (claim → Postgres → commit). */
  async function buyAndPersist(saleId: string, buyer: string) {
    const orderId = uid('o')
    let res
    for (let i = 0; i < 100; i++) {
      res = await h.reserve(buyer, { saleId, orderId, qty: 1 })
      if (res.statusCode !== 503) break
      await sleep(50)
    }
    assert.equal(res?.statusCode, 201, res?.body)
    const step = (name: string) => h.app.inject({ method: 'POST', url: `/admin/reservations/${name}`, headers: admin, payload: { orderIds: [orderId] } })
    await step('claim')
    await withTransaction(h.db.primary, (tx) => tx.query('SELECT inventory.commit_units($1, 1, $2)', [saleId, buyer]))
    await step('commit')
  }

  it('refuses until rebuilt from Postgres, then hands out only what Postgres has not sold', async () => {
    const saleId = await h.createSale({ totalUnits: 10, perUserLimit: 1 })
    await buyAndPersist(saleId, 'a')
    await h.redis.call('SAVE') // the older dataset the next server starts from: a sold, b not yet
    await buyAndPersist(saleId, 'b')
    assert.equal((await h.gate(saleId)).available, 8)
    assert.deepEqual(await h.ledger(saleId), { total: 10, sold: 2 })

    server?.kill('SIGKILL')
    await sleep(200)
    await startServer()
    // The new server knows only a: 9 available by its own counts. Postgres says 2 are sold.
    let res
    const refusals: string[] = []
    for (let i = 0; i < 200; i++) {
      res = await h.reserve('c', { saleId, orderId: uid('o'), qty: 1 })
      if (res.statusCode !== 503) break
      refusals.push(res.json().reason)
      await sleep(25)
    }
    assert.equal(res?.statusCode, 201, res?.body)
    assert.ok(refusals.length > 0 && refusals.every((r) => r === 'rebuilding' || r === 'error'), `refused meanwhile with: ${refusals.join(', ')}`)
    assert.equal((await h.gate(saleId)).available, 7, '10 − 2 sold − c: the stale 9 was not handed out')
    const changes = await h.metrics.registry.getSingleMetric('inventory_redis_server_changes_total')?.get()
    assert.equal(changes?.values[0]?.value, 1)
  })
})
