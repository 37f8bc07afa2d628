/**
 * Which errors mean "a datastore is unreachable right now" (503 + Retry-After) and which are bugs (500).
 * The real errors come from real clients against a port nobody listens on; the rest are shaped as the
 * libraries shape them (PostgreSQL SQLSTATEs, ioredis messages), checked one by one.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Redis } from 'ioredis'
import pg from 'pg'
import { createTestDatabase, freePort } from '@flashsale/testkit'
import { isDependencyUnavailable } from '../src/index.ts'

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })

describe('isDependencyUnavailable', () => {
  it('a real PostgreSQL pool and a real ioredis client against a closed port', async () => {
    const port = await freePort()
    const pool = new pg.Pool({ connectionString: `postgres://x:y@127.0.0.1:${port}/z`, connectionTimeoutMillis: 2_000 })
    const pgError = await pool.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    )
    await pool.end()
    assert.ok(pgError, 'the query failed')
    assert.equal(isDependencyUnavailable(pgError), true, String(pgError))

    const redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
    redis.on('error', () => {})
    const redisError = await redis.get('k').then(
      () => undefined,
      (e: unknown) => e,
    )
    redis.disconnect()
    assert.ok(redisError, 'the command failed')
    assert.equal(isDependencyUnavailable(redisError), true, String(redisError))
  })

  it('a real query stuck behind a lock, cancelled by statement_timeout or lock_timeout (make chaos-pool-exhaustion)', async () => {
    const db = await createTestDatabase('stuck')
    const holder = new pg.Client({ connectionString: db.primaryUrl })
    await holder.connect()
    try {
      await holder.query('CREATE TABLE t (id int)')
      await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE')
      for (const setting of ['statement_timeout', 'lock_timeout']) {
        const pool = new pg.Pool({ connectionString: db.primaryUrl, max: 1, options: `-c ${setting}=100` })
        const err = await pool.query('SELECT * FROM t').then(
          () => undefined,
          (e: unknown) => e,
        )
        await pool.end()
        assert.ok(err, `${setting}: the query failed`)
        assert.equal((err as { code?: string }).code, setting === 'statement_timeout' ? '57014' : '55P03')
        assert.equal(isDependencyUnavailable(err), true, `${setting}: ${String(err)}`)
      }
    } finally {
      await holder.end()
      await db.cleanup()
    }
  })

  it('PostgreSQL: connection exceptions, shutdowns, too many connections, a write on a standby, a cancelled statement', () => {
    for (const code of ['08006', '08001', '08P01', '57P01', '57P02', '57P03', '53300', '25006', '57014', '55P03'])
      assert.equal(isDependencyUnavailable(withCode(code)), true, code)
    assert.equal(isDependencyUnavailable(new Error('Connection terminated unexpectedly')), true)
    assert.equal(isDependencyUnavailable(new Error('timeout exceeded when trying to connect')), true)
    assert.equal(isDependencyUnavailable(withCode('23505')), false, 'a unique violation is a bug or a race, not an outage')
  })

  it('ioredis: retries exhausted, closed connection, no offline queue, command timeout, READONLY, LOADING', () => {
    assert.equal(isDependencyUnavailable(Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' })), true)
    for (const message of [
      'Connection is closed.',
      "Stream isn't writeable and enableOfflineQueue options is false",
      'Command timed out',
      "READONLY You can't write against a read only replica.",
      'LOADING Redis is loading the dataset in memory',
    ]) {
      assert.equal(isDependencyUnavailable(new Error(message)), true, message)
    }
  })

  it('looks through cause and AggregateError', () => {
    assert.equal(isDependencyUnavailable(new Error('lookup failed', { cause: withCode('ECONNREFUSED') })), true)
    assert.equal(isDependencyUnavailable(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])), true)
  })

  it('bugs and bad requests are not outages: syntax errors, constraint violations, type errors, nothing at all', () => {
    for (const code of ['42601', '23505', '22P02', '40001', '42P01']) assert.equal(isDependencyUnavailable(withCode(code)), false, code)
    assert.equal(isDependencyUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')")), false)
    assert.equal(isDependencyUnavailable(new Error('ERR wrong number of arguments')), false)
    assert.equal(isDependencyUnavailable(undefined), false)
    assert.equal(isDependencyUnavailable('ECONNREFUSED'), false)
  })
})
