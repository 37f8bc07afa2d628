import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createDatabase, createRedisRecentWrites, type Database, type RecentWrites } from '../src/index.ts'
import { metricValue, readServedBy } from './helpers.ts'

const WINDOW_MS = 1_000

describe('read-your-own-writes, with the recent writers kept in Redis', () => {
  let testDb: TestDatabase
  let testRedis: TestRedis
  let recentWrites: RecentWrites
  let db: Database
  const registry = new Registry()

  const router = (reg: Registry) =>
    createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: testDb.replicaUrls, maxReplicaLagMs: 60_000, recentWrites, registry: reg })

  before(async () => {
    ;[testDb, testRedis] = await Promise.all([createTestDatabase('db_ryow'), createTestRedis('db_ryow')])
    recentWrites = createRedisRecentWrites(testRedis.redis, { windowMs: WINDOW_MS })
    db = router(registry)
    await db.query('CREATE TABLE orders (id int PRIMARY KEY, user_id text)')
  })
  after(async () => {
    await db?.close()
    await Promise.all([testDb?.cleanup(), testRedis?.cleanup()])
  })

  it("sends a user's read right after their own write to the primary, and another user's to a replica", async () => {
    await db.query('INSERT INTO orders VALUES (1, $1)', ['alice'])
    await db.markWrite('alice')
    assert.equal((await readServedBy(db, { userId: 'alice' })).standby, false, "alice's read is served by the primary")
    const { rows } = await db.read('SELECT user_id FROM orders WHERE id = 1', [], { userId: 'alice' })
    assert.deepEqual(rows, [{ user_id: 'alice' }], 'and sees her order at once')
    assert.equal((await readServedBy(db, { userId: 'bob' })).standby, true, "bob's read is served by a replica")
    assert.equal((await readServedBy(db)).standby, true, 'so is an anonymous read')
    assert.equal(await metricValue(registry, 'db_reads_total', { target: 'primary', reason: 'read_your_writes' }), 2)
    assert.equal((await db.readPool({ userId: 'alice' })).reason, 'read_your_writes')
  })

  it('sends the user back to the replicas once the window has passed', async () => {
    await db.markWrite('carol')
    assert.equal((await readServedBy(db, { userId: 'carol' })).standby, false)
    await sleep(WINDOW_MS + 250)
    assert.equal((await readServedBy(db, { userId: 'carol' })).standby, true)
  })

  it('keeps the window in Redis, so another instance of the service honours it too', async () => {
    const otherRegistry = new Registry()
    const otherInstance = router(otherRegistry)
    try {
      await db.markWrite('dave')
      assert.equal((await readServedBy(otherInstance, { userId: 'dave' })).standby, false)
      assert.equal(await testRedis.redis.exists('ryow:dave'), 1, 'the mark is a Redis key')
      const ttl = await testRedis.redis.pttl('ryow:dave')
      assert.ok(ttl > 0 && ttl <= WINDOW_MS, `the key expires with the window (pttl ${ttl})`)
    } finally {
      await otherInstance.close()
    }
  })

  it('reads from the primary when Redis cannot say whether the user wrote', async () => {
    const broken: RecentWrites = { mark: async () => {}, has: async () => Promise.reject(new Error('redis down')) }
    const blind = createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: testDb.replicaUrls, maxReplicaLagMs: 60_000, recentWrites: broken })
    try {
      assert.equal((await readServedBy(blind, { userId: 'erin' })).standby, false)
      assert.equal((await readServedBy(blind)).standby, true, 'reads without a user are unaffected')
    } finally {
      await blind.close()
    }
  })
})
