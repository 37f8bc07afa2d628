import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createTestDatabase, createTestProxy, createTestRedis, getInfra, type TestDatabase, type TestRedis } from '../src/index.ts'

describe('testkit isolation on the real servers', () => {
  let a: TestDatabase
  let b: TestDatabase
  let redisA: TestRedis
  let redisB: TestRedis

  before(async () => {
    ;[a, b, redisA, redisB] = await Promise.all([createTestDatabase('iso'), createTestDatabase('iso'), createTestRedis('iso'), createTestRedis('iso')])
  })
  after(async () => {
    await Promise.all([a?.cleanup(), b?.cleanup(), redisA?.cleanup(), redisB?.cleanup()])
  })

  it('finds servers and says where they came from', async () => {
    const infra = await getInfra()
    assert.ok(['environment', 'stack.env', 'testcontainers'].includes(infra.source))
    assert.ok(infra.pgReplicaUrls.length >= 2, 'the stack has two streaming replicas')
  })

  it('gives two suites two databases: a table made in one does not exist in the other', async () => {
    assert.notEqual(a.name, b.name)
    const ca = new pg.Client({ connectionString: a.primaryUrl })
    const cb = new pg.Client({ connectionString: b.primaryUrl })
    await Promise.all([ca.connect(), cb.connect()])
    try {
      await ca.query('CREATE TABLE only_in_a (id int)')
      const { rows } = await cb.query(`SELECT to_regclass('only_in_a') AS t`)
      assert.equal(rows[0].t, null)
    } finally {
      await Promise.all([ca.end(), cb.end()])
    }
  })

  it('makes the new database reachable on every replica', async () => {
    for (const url of a.replicaUrls) {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      const { rows } = await c.query('SELECT pg_is_in_recovery() AS standby, current_database() AS db')
      await c.end()
      assert.deepEqual(rows[0], { standby: true, db: a.name })
    }
  })

  it("prefixes Redis keys per suite and cleanup removes only that suite's keys", async () => {
    await redisA.redis.set('k', 'a')
    await redisB.redis.set('k', 'b')
    assert.equal(await redisA.redis.get('k'), 'a')
    assert.equal(await redisB.redis.get('k'), 'b')
    const probe = await createTestRedis('iso-probe')
    await probe.redis.set('k', 'p')
    await probe.cleanup()
    assert.equal(await redisA.redis.get('k'), 'a')
  })
})

describe('testkit proxy (Toxiproxy)', () => {
  it('passes traffic through, refuses it while disabled, and passes again once enabled', async () => {
    const db = await createTestDatabase('proxy')
    const proxy = await createTestProxy('pg', db.primaryUrl)
    const ask = async () => {
      const c = new pg.Client({ connectionString: proxy.rewrite(db.primaryUrl), connectionTimeoutMillis: 2_000 })
      try {
        await c.connect()
        return (await c.query('SELECT 1 AS one')).rows[0].one
      } finally {
        await c.end().catch(() => {})
      }
    }
    try {
      assert.equal(await ask(), 1)
      await proxy.disable()
      await assert.rejects(ask())
      await proxy.enable()
      assert.equal(await ask(), 1)
    } finally {
      await proxy.cleanup()
      await db.cleanup()
    }
  })
})
