import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, createTestProxy, type TestDatabase, type TestProxy } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createDatabase, isConnectionError, type Database } from '../src/index.ts'
import { metricValue, portOf, readServedBy, waitFor } from './helpers.ts'

/**
 * A replica "stops" by having its Toxiproxy proxy disabled: connections to it are refused and dropped,
 * as with a dead host, while every other suite keeps using the same server directly.
 */
describe('read router when replicas stop and come back', () => {
  let testDb: TestDatabase
  let proxies: TestProxy[]
  let replica1: number
  let replica2: number

  before(async () => {
    testDb = await createTestDatabase('db_failover')
    proxies = await Promise.all(testDb.replicaUrls.map((url, i) => createTestProxy(`db_failover_r${i + 1}`, url)))
    ;[replica1, replica2] = testDb.replicaUrls.map(portOf) as [number, number]
  })
  after(async () => {
    await Promise.all(proxies?.map((p) => p.cleanup()) ?? [])
    await testDb?.cleanup()
  })

  const throughProxies = (registry: Registry, healthCheckIntervalMs: number): Database =>
    createDatabase({
      primaryUrl: testDb.primaryUrl,
      replicaUrls: testDb.replicaUrls.map((url, i) => proxies[i]!.rewrite(url)),
      healthCheckIntervalMs,
      maxReplicaLagMs: 60_000, // lag is the serial suite's subject
      registry,
      poolOptions: { name: 'failover-test', connectionTimeoutMillis: 2_000 },
    })

  it('keeps reads working on the other replica, then on the primary, when replicas die between health checks', async () => {
    const registry = new Registry()
    // Checks far apart: only the reads themselves can notice the failures.
    const db = throughProxies(registry, 60_000)
    try {
      await waitFor('the first health check', () => db.replicaStates().every((s) => s.checkedAt !== undefined))
      const warm = new Set([(await readServedBy(db)).port, (await readServedBy(db)).port])
      assert.deepEqual(warm, new Set([replica1, replica2]), 'both replicas serve before the failure')

      await proxies[0]!.disable()
      for (let i = 0; i < 4; i++) assert.deepEqual(await readServedBy(db), { standby: true, port: replica2 }, `read ${i} after replica 1 stopped`)
      assert.equal(db.replicaStates()[0]?.healthy, false)
      assert.equal(db.replicaStates()[0]?.down, 'unreachable')
      assert.equal(
        await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica_error' }),
        1,
        'one read hit the dead replica and was retried on the other',
      )
      assert.equal(await metricValue(registry, 'db_replica_up', { replica: proxies[0]!.listen }), 0)

      await proxies[1]!.disable()
      for (let i = 0; i < 3; i++)
        assert.deepEqual(await readServedBy(db), { standby: false, port: portOf(testDb.primaryUrl) }, `read ${i} with no replica left`)
      assert.equal(await metricValue(registry, 'db_reads_total', { target: 'primary', reason: 'replica_error' }), 1)
      assert.equal(await metricValue(registry, 'db_reads_total', { target: 'primary', reason: 'no_healthy_replica' }), 2)
    } finally {
      await Promise.all(proxies.map((p) => p.enable()))
      await db.close()
    }
  })

  it('takes a stopped replica out of rotation by health check, and back in once it answers again', async () => {
    const registry = new Registry()
    const db = throughProxies(registry, 100)
    try {
      await proxies[0]!.disable()
      await waitFor('the health check to mark replica 1 down', () => db.replicaStates()[0]?.down === 'unreachable')
      const ports = new Set<number>()
      for (let i = 0; i < 6; i++) ports.add((await readServedBy(db)).port)
      assert.deepEqual(ports, new Set([replica2]))
      assert.equal(await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica_error' }), 0, 'no read had to find out for itself')

      await proxies[0]!.enable()
      await waitFor('the health check to mark replica 1 up again', () => db.replicaStates()[0]?.healthy === true)
      const back = new Set<number>()
      for (let i = 0; i < 4; i++) back.add((await readServedBy(db)).port)
      assert.deepEqual(back, new Set([replica1, replica2]), 'failback: both replicas serve again')
      assert.equal(await metricValue(registry, 'db_replica_up', { replica: proxies[0]!.listen }), 1)
    } finally {
      await Promise.all(proxies.map((p) => p.enable()))
      await db.close()
    }
  })

  it('when every node is down for a moment (standbys restarting in a failover), a read is tried once more after a pause and served', async () => {
    const registry = new Registry()
    const primaryProxy = await createTestProxy('db_failover_primary', testDb.primaryUrl)
    const db = createDatabase({
      primaryUrl: primaryProxy.rewrite(testDb.primaryUrl),
      replicaUrls: testDb.replicaUrls.map((url, i) => proxies[i]!.rewrite(url)),
      healthCheckIntervalMs: 60_000, // only the reads notice
      maxReplicaLagMs: 60_000,
      readRetryAfterMs: 300,
      registry,
      poolOptions: { name: 'failover-all-down', connectionTimeoutMillis: 2_000 },
    })
    try {
      await waitFor('the first health check', () => db.replicaStates().every((s) => s.checkedAt !== undefined))
      await Promise.all([primaryProxy.disable(), ...proxies.map((p) => p.disable())])
      // Back before the pause ends, as a restarted standby is.
      const back = setTimeout(() => void proxies[1]!.enable(), 100)
      try {
        assert.deepEqual(await readServedBy(db), { standby: true, port: replica2 })
      } finally {
        clearTimeout(back)
      }
      // Nothing comes back: the read fails after its one pause, as unavailable.
      await proxies[1]!.disable()
      await assert.rejects(readServedBy(db), (err: unknown) => isConnectionError(err))
    } finally {
      await Promise.all([primaryProxy.enable(), ...proxies.map((p) => p.enable())])
      await db.close()
      await primaryProxy.cleanup()
    }
  })
})
