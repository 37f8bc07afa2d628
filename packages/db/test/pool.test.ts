import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import pg from 'pg'
import { Registry, register as globalRegistry } from 'prom-client'
import { createPool, poolSize } from '../src/index.ts'
import { metricValue, waitFor } from './helpers.ts'

describe('poolSize (core_count * 2 + effective_spindle_count)', () => {
  it('is twice the cores plus one spindle', () => {
    assert.equal(poolSize({ cores: 1 }), 3)
    assert.equal(poolSize({ cores: 4 }), 9)
    assert.equal(poolSize({ cores: 16 }), 33)
  })

  it('counts the given spindles', () => {
    assert.equal(poolSize({ cores: 4, spindles: 0 }), 8)
    assert.equal(poolSize({ cores: 4, spindles: 3 }), 11)
  })

  it('rejects a core count that is not a positive integer', () => {
    for (const cores of [0, -2, 1.5, Number.NaN]) assert.throws(() => poolSize({ cores }), RangeError)
  })
})

describe('createPool on the real primary', () => {
  let db: TestDatabase
  const pools: pg.Pool[] = []
  const track = (pool: pg.Pool) => (pools.push(pool), pool)

  before(async () => {
    db = await createTestDatabase('db_pool')
  })
  after(async () => {
    await Promise.all(pools.filter((p) => !p.ending).map((p) => p.end()))
    await db?.cleanup()
  })

  it('sizes the pool by the formula for this machine unless told otherwise', () => {
    const pool = track(createPool(db.primaryUrl, { role: 'primary', name: 'sized' }))
    assert.equal(pool.options.max, poolSize({ cores: availableParallelism() }))
    assert.equal(track(createPool(db.primaryUrl, { role: 'primary', name: 'small', max: 2 })).options.max, 2)
  })

  it('names its connections (application_name) and applies the statement timeout', async () => {
    const pool = track(createPool(db.primaryUrl, { role: 'primary', name: 'order-api', statementTimeoutMs: 1500 }))
    const { rows } = await pool.query(`SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout`)
    assert.deepEqual(rows[0], { app: 'order-api', timeout: '1500ms' })
    await assert.rejects(pool.query('SELECT pg_sleep(5)'), (err: unknown) => err instanceof pg.DatabaseError && err.code === '57014')
  })

  it('reports total, idle and waiting connections in the registry on scrape', async () => {
    const registry = new Registry()
    const pool = track(createPool(db.primaryUrl, { role: 'primary', name: 'gauged', max: 1, registry }))
    const held = await pool.connect()
    const queued = pool.connect() // waits: the only connection is held
    const labels = (state: string) => ({ pool: 'gauged', role: 'primary', state })
    assert.equal(await metricValue(registry, 'pg_pool_connections', labels('total')), 1)
    assert.equal(await metricValue(registry, 'pg_pool_connections', labels('idle')), 0)
    assert.equal(await metricValue(registry, 'pg_pool_connections', labels('waiting')), 1)
    held.release()
    ;(await queued).release()
    assert.equal(await metricValue(registry, 'pg_pool_connections', labels('idle')), 1)
    assert.equal(await metricValue(registry, 'pg_pool_connections', labels('waiting')), 0)
    assert.match(await registry.metrics(), /pg_pool_connections\{pool="gauged",role="primary",state="total"\} 1/)
  })

  it('times every acquisition, by connect() and by pool.query()', async () => {
    const registry = new Registry()
    const pool = track(createPool(db.primaryUrl, { role: 'replica', name: 'timed', registry }))
    await pool.query('SELECT 1')
    const client = await pool.connect()
    client.release()
    assert.equal(await metricValue(registry, 'pg_pool_acquire_seconds', { pool: 'timed', role: 'replica', le: '+Inf' }), 2)
    assert.match(await registry.metrics(), /pg_pool_acquire_seconds_count\{pool="timed",role="replica"\} 2/)
  })

  it('counts an idle connection killed by the server as a pool error, and keeps working', async () => {
    const registry = new Registry()
    const pool = track(createPool(db.primaryUrl, { role: 'primary', name: 'killed', max: 1, registry }))
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const admin = new pg.Client({ connectionString: db.primaryUrl })
    await admin.connect()
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
    } finally {
      await admin.end()
    }
    await waitFor(
      'pg_pool_errors_total to count the killed connection',
      async () => (await metricValue(registry, 'pg_pool_errors_total', { pool: 'killed' })) === 1,
    )
    const again = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    assert.notEqual(again.rows[0]?.pid, rows[0]?.pid)
  })

  it('stops reporting a pool once it has ended, and never registers in the global registry', async () => {
    const registry = new Registry()
    const pool = createPool(db.primaryUrl, { role: 'primary', name: 'ended', registry })
    await pool.query('SELECT 1')
    await pool.end()
    assert.doesNotMatch(await registry.metrics(), /pg_pool_connections\{pool="ended"/)
    assert.equal(globalRegistry.getSingleMetric('pg_pool_connections'), undefined)
  })
})
