/**
 * Pauses WAL replay on a shared replica, which stalls every suite's databases on it: hence a serial
 * suite, run alone after the parallel ones, and replay is resumed however the test ends.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, createTestProxy, type TestDatabase } from '@flashsale/testkit'
import pg from 'pg'
import { Registry } from 'prom-client'
import { createDatabase, type Database } from '../src/index.ts'
import { metricValue, portOf, readServedBy, waitFor } from './helpers.ts'

const MAX_LAG_MS = 500

describe('read router when a replica falls behind', () => {
  let testDb: TestDatabase
  let db: Database
  let lagging: pg.Client
  const registry = new Registry()
  const resume = () => lagging.query('SELECT pg_wal_replay_resume()')

  before(async () => {
    testDb = await createTestDatabase('db_lag')
    lagging = new pg.Client({ connectionString: testDb.replicaUrls[0] })
    await lagging.connect()
    db = createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: testDb.replicaUrls, maxReplicaLagMs: MAX_LAG_MS, healthCheckIntervalMs: 100, registry })
    await db.query('CREATE TABLE stock (sku text PRIMARY KEY, units int)')
  })
  after(async () => {
    await resume().catch((err: unknown) => console.error('could not resume WAL replay on', testDb.replicaUrls[0], err))
    await lagging?.end()
    await db?.close()
    await testDb?.cleanup()
  })

  it('avoids a replica whose replay is paused, and uses it again once it has caught up', async () => {
    const [behind, current] = testDb.replicaUrls.map(portOf)
    await waitFor('both replicas healthy', () => db.replicaStates().every((s) => s.checkedAt !== undefined && s.healthy))
    await waitFor('the table on the replica to pause', async () => (await lagging.query(`SELECT to_regclass('stock') IS NOT NULL AS t`)).rows[0]?.t === true)
    try {
      await lagging.query('SELECT pg_wal_replay_pause()')
      await waitFor('replay paused', async () => (await lagging.query('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]?.s === 'paused')
      await db.query(`INSERT INTO stock VALUES ('sku-1', 10)`)

      await waitFor(`the health check to see lag > ${MAX_LAG_MS} ms`, () => db.replicaStates()[0]?.down === 'lagging')
      assert.ok((db.replicaStates()[0]?.lagMs ?? 0) > MAX_LAG_MS)
      assert.ok((await metricValue(registry, 'db_replica_lag_seconds', { replica: new URL(testDb.replicaUrls[0]!).host })) > MAX_LAG_MS / 1000)
      assert.equal((await lagging.query(`SELECT count(*)::int AS n FROM stock`)).rows[0]?.n, 0, 'the paused replica really is stale')

      for (let i = 0; i < 6; i++) assert.deepEqual(await readServedBy(db), { standby: true, port: current }, `read ${i} avoids the lagging replica`)
    } finally {
      await resume()
    }
    await waitFor('the caught-up replica to be healthy again', () => db.replicaStates()[0]?.healthy === true)
    const ports = new Set<number>()
    for (let i = 0; i < 4; i++) ports.add((await readServedBy(db)).port)
    assert.deepEqual(ports, new Set([behind, current]))
  })

  it('when the primary cannot answer either, a standby that is only behind serves the read rather than nobody', async () => {
    const proxy = await createTestProxy('db_lag_primary', testDb.primaryUrl)
    const stale = createDatabase({
      primaryUrl: proxy.rewrite(testDb.primaryUrl),
      replicaUrls: [testDb.replicaUrls[0]!],
      maxReplicaLagMs: MAX_LAG_MS,
      healthCheckIntervalMs: 100,
      registry,
    })
    try {
      await lagging.query('SELECT pg_wal_replay_pause()')
      await db.query(`INSERT INTO stock VALUES ('sku-2', 5)`)
      await waitFor(`the health check to see lag > ${MAX_LAG_MS} ms`, () => stale.replicaStates()[0]?.down === 'lagging')
      await proxy.disable()
      const before = await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'primary_unavailable' })
      assert.deepEqual(await readServedBy(stale), { standby: true, port: portOf(testDb.replicaUrls[0]!) })
      assert.equal(await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'primary_unavailable' }), before + 1)
      // Writes have nowhere to go: they fail as unavailable (503 in a service), never on the standby.
      await assert.rejects(stale.query(`INSERT INTO stock VALUES ('sku-3', 1)`))
    } finally {
      await resume()
      await proxy.enable().catch(() => {})
      await stale.close()
      await proxy.cleanup()
    }
  })
})
