import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import type pg from 'pg'
import { createPool, withTransaction } from '../src/index.ts'

describe('withTransaction on the real primary', () => {
  let db: TestDatabase
  let pool: pg.Pool

  before(async () => {
    db = await createTestDatabase('db_tx')
    // One connection: a client that was not released would make the next test wait and time out.
    pool = createPool(db.primaryUrl, { role: 'primary', name: 'tx', max: 1, connectionTimeoutMillis: 2_000 })
    await pool.query('CREATE TABLE items (id int PRIMARY KEY)')
  })
  after(async () => {
    await pool?.end()
    await db?.cleanup()
  })

  const ids = async () => (await pool.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id)

  it('commits every statement when fn succeeds, and returns its result', async () => {
    const result = await withTransaction(pool, async (client) => {
      await client.query('INSERT INTO items VALUES (1)')
      await client.query('INSERT INTO items VALUES (2)')
      return 'done'
    })
    assert.equal(result, 'done')
    assert.deepEqual(await ids(), [1, 2])
  })

  it('rolls back every statement when fn throws, and rethrows that error', async () => {
    const boom = new Error('boom')
    await assert.rejects(
      withTransaction(pool, async (client) => {
        await client.query('INSERT INTO items VALUES (3)')
        throw boom
      }),
      (err) => err === boom,
    )
    assert.deepEqual(await ids(), [1, 2])
  })

  it('rolls back when a statement fails (constraint violation)', async () => {
    await assert.rejects(
      withTransaction(pool, async (client) => {
        await client.query('INSERT INTO items VALUES (4)')
        await client.query('INSERT INTO items VALUES (1)')
      }),
      { code: '23505' },
    )
    assert.deepEqual(await ids(), [1, 2])
  })

  it('runs at the requested isolation level', async () => {
    const level = await withTransaction(pool, async (client) => (await client.query('SHOW transaction_isolation')).rows[0]?.transaction_isolation, {
      isolation: 'serializable',
    })
    assert.equal(level, 'serializable')
  })

  it('releases the connection after success and failure: the pool is idle again', async () => {
    await withTransaction(pool, async () => {})
    await assert.rejects(withTransaction(pool, async () => Promise.reject(new Error('x'))))
    assert.equal(pool.totalCount, pool.idleCount)
    assert.equal(pool.waitingCount, 0)
  })

  it('destroys a connection that died mid-transaction instead of returning it to the pool', async () => {
    let deadPid: number | undefined
    await assert.rejects(
      withTransaction(pool, async (client) => {
        deadPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
        await client.query('SELECT pg_terminate_backend(pg_backend_pid())')
      }),
    )
    assert.equal(pool.totalCount, 0, 'the broken connection is not kept')
    const pid = await withTransaction(pool, async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid)
    assert.notEqual(pid, deadPid)
  })
})
