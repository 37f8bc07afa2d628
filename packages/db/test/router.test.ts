import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import pg from 'pg'
import { Registry } from 'prom-client'
import { PoolSaturatedError, createDatabase, type Database } from '../src/index.ts'
import { metricValue, portOf, readServedBy, waitFor, writeServedBy } from './helpers.ts'

describe('read router on the real primary and its two streaming replicas', () => {
  let testDb: TestDatabase
  let db: Database
  const registry = new Registry()

  before(async () => {
    testDb = await createTestDatabase('db_router')
    assert.equal(testDb.replicaUrls.length, 2, 'the stack has two replicas')
    // Lag has its own serial suite. Here a generous bound keeps other suites' CREATE DATABASE replays
    // (which make an idle replica look far behind for a moment) from taking a replica out of rotation.
    db = createDatabase({
      primaryUrl: testDb.primaryUrl,
      replicaUrls: testDb.replicaUrls,
      maxReplicaLagMs: 60_000,
      registry,
      poolOptions: { name: 'router-test' },
    })
    await db.query('CREATE TABLE notes (id int PRIMARY KEY, body text)')
  })
  after(async () => {
    await db?.close()
    await testDb?.cleanup()
  })

  it('makes a write on the primary readable on each replica within 10 s', async () => {
    await db.query('INSERT INTO notes VALUES ($1, $2)', [1, 'hello'])
    for (const url of testDb.replicaUrls) {
      const replica = new pg.Client({ connectionString: url })
      await replica.connect()
      try {
        // The CREATE TABLE replays asynchronously too: until it has, the replica has no such table (42P01).
        const rowIsThere = async () => {
          try {
            return (await replica.query('SELECT body FROM notes WHERE id = 1')).rows[0]?.body === 'hello'
          } catch (err) {
            if ((err as { code?: string }).code === '42P01') return false
            throw err
          }
        }
        await waitFor(`row 1 on replica :${portOf(url)}`, rowIsThere)
      } finally {
        await replica.end()
      }
    }
  })

  it('serves read() from a standby and query() from the primary', async () => {
    const write = await writeServedBy(db)
    assert.deepEqual(write, { standby: false, port: portOf(testDb.primaryUrl) })
    for (let i = 0; i < 4; i++) {
      const read = await readServedBy(db)
      assert.equal(read.standby, true, 'pg_is_in_recovery() on the serving connection')
      assert.ok(testDb.replicaUrls.map(portOf).includes(read.port))
    }
  })

  it('alternates reads between both replicas (round-robin)', async () => {
    const ports: number[] = []
    for (let i = 0; i < 10; i++) ports.push((await readServedBy(db)).port)
    const [r1, r2] = testDb.replicaUrls.map(portOf)
    assert.deepEqual(new Set(ports), new Set([r1, r2]))
    for (let i = 1; i < ports.length; i++) assert.notEqual(ports[i], ports[i - 1], `reads ${i - 1} and ${i} went to the same replica`)
  })

  it('reports every replica up with a lag and counts reads by target and reason', async () => {
    await waitFor('a health check of both replicas', () => db.replicaStates().every((s) => s.checkedAt !== undefined))
    for (const state of db.replicaStates()) {
      assert.equal(state.healthy, true)
      assert.equal(typeof state.lagMs, 'number')
      assert.equal(await metricValue(registry, 'db_replica_up', { replica: state.replica }), 1)
    }
    const before = await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica' })
    await db.read('SELECT 1')
    assert.equal(await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica' }), before + 1)
    const text = await registry.metrics()
    assert.match(text, /db_replica_lag_seconds\{replica="127\.0\.0\.1:\d+"\} /)
    assert.match(text, /pg_pool_connections\{pool="router-test@[^"]+",role="replica",state="total"\}/)
  })

  it('hands out a replica pool for several reads, or the primary with the reason', async () => {
    const choice = await db.readPool()
    assert.equal(choice.target, 'replica')
    assert.equal(choice.reason, 'replica')
    assert.equal((await choice.pool.query('SELECT pg_is_in_recovery() AS standby')).rows[0]?.standby, true)
  })

  it('does not retry a SQL error or hold it against the replica', async () => {
    const retriesBefore = await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica_error' })
    await assert.rejects(db.read('SELEC 1'), (err: unknown) => err instanceof pg.DatabaseError && err.code === '42601')
    await assert.rejects(db.read('SELECT 1/0'), { code: '22012' })
    assert.equal(await metricValue(registry, 'db_reads_total', { target: 'replica', reason: 'replica_error' }), retriesBefore)
    assert.equal(await metricValue(registry, 'db_reads_total', { target: 'primary', reason: 'replica_error' }), 0)
    assert.ok(db.replicaStates().every((s) => s.healthy))
  })

  it('a read that finds its pool full is shed at once: no other node tried, no node marked down', async () => {
    // One connection per pool, held: this process is saturated, the standbys are fine (make chaos-pool-exhaustion).
    const own = new Registry()
    const busy = createDatabase({
      primaryUrl: testDb.primaryUrl,
      replicaUrls: testDb.replicaUrls,
      maxReplicaLagMs: 60_000,
      registry: own,
      poolOptions: { name: 'router-saturated', max: 1, connectionTimeoutMillis: 100 },
    })
    const held: pg.PoolClient[] = []
    try {
      await waitFor('both replicas checked', () => busy.replicaStates().every((s) => s.checkedAt !== undefined && s.healthy))
      for (let i = 0; i < 2; i++) held.push(await (await busy.readPool()).pool.connect())
      await assert.rejects(busy.read('SELECT 1'), (err: unknown) => {
        assert.ok(err instanceof PoolSaturatedError, String(err))
        assert.match(err.message, /^timeout exceeded when trying to connect/, 'answered 503 by isDependencyUnavailable')
        return true
      })
      assert.ok(
        busy.replicaStates().every((s) => s.healthy),
        'no standby marked down',
      )
      assert.equal(await metricValue(own, 'db_reads_total', { target: 'replica', reason: 'replica_error' }), 0, 'no second replica tried')
      assert.equal(await metricValue(own, 'db_reads_total', { target: 'primary', reason: 'replica_error' }), 0, 'nor the primary')
    } finally {
      for (const c of held) c.release()
      await busy.close()
    }
  })

  it('a listed node that is the primary now has no db_replica_up series (not a replica out of rotation)', async () => {
    // The native stack lists every node as a read candidate: any may be promoted, and the router uses those that are standbys.
    const own = new Registry()
    const all = createDatabase({
      primaryUrl: testDb.primaryUrl,
      replicaUrls: [testDb.primaryUrl, ...testDb.replicaUrls],
      maxReplicaLagMs: 60_000,
      registry: own,
    })
    try {
      await waitFor('every node checked', () => all.replicaStates().every((s) => s.checkedAt !== undefined))
      const primary = all.replicaStates()[0]!
      assert.equal(primary.down, 'not_standby')
      const series = (await own.getSingleMetric('db_replica_up')!.get()).values
      assert.deepEqual(
        series.map((v) => v.labels['replica']).sort(),
        all
          .replicaStates()
          .slice(1)
          .map((s) => s.replica)
          .sort(),
        'the standbys only',
      )
      assert.ok(series.every((v) => v.value === 1))
    } finally {
      await all.close()
    }
  })

  it('reads from the primary when no replica is configured', async () => {
    const own = new Registry()
    const solo = createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: [], registry: own })
    try {
      assert.equal((await readServedBy(solo)).standby, false)
      assert.equal(await metricValue(own, 'db_reads_total', { target: 'primary', reason: 'no_healthy_replica' }), 1)
    } finally {
      await solo.close()
    }
  })

  it('refuses markWrite() without a recent-writes store, rather than silently serving stale reads', async () => {
    await assert.rejects(db.markWrite('u1'), /recentWrites/)
  })
})
