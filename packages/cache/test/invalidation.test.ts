import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { Registry } from 'prom-client'
import { createCache, type Loader } from '../src/index.ts'
import { createProductsDb, metricValue, patientRedis, waitFor, type Product, type ProductsDb } from './helpers.ts'

describe('delete-on-write invalidation', () => {
  let db: ProductsDb
  let redis: TestRedis

  before(async () => {
    db = await createProductsDb('cache_invalidation')
    redis = await createTestRedis('cache_invalidation')
  })
  after(async () => {
    await redis?.cleanup()
    await db?.cleanup()
  })

  /**
   * Reads the row, then dawdles up to 15 ms before handing it back — the window in which a plain
   * cache-aside loader writes a value that has meanwhile been updated and invalidated back into the cache.
   */
  const slowLoader: Loader<Product> = async (key) => {
    const { rows } = await db.pool.query<Product>('SELECT id, name, version FROM products WHERE id = $1', [key])
    await sleep(Math.random() * 15)
    return rows[0]
  }

  it('a write concurrent with reads never leaves the old value behind: after invalidate(), every read sees the write', async () => {
    const registry = new Registry()
    // A long TTL: a stale value written back would survive the whole test. Every key is hot, so L1 is
    // in play too.
    const cache = createCache<Product>({ ...patientRedis, name: 'race', redis: redis.redis, registry, ttlMs: 60_000, hotKeys: { threshold: 1 } })
    const key = '11'
    let committed = 1 // the version whose invalidate() has completed
    let stop = false
    const violations: string[] = []
    let reads = 0
    const reader = async (): Promise<void> => {
      while (!stop) {
        const mustSee = committed
        const v = await cache.get(key, slowLoader)
        reads++
        if (!v || v.version < mustSee) violations.push(`read started after invalidate of v${mustSee} returned v${v?.version}`)
        await sleep(Math.random() * 3)
      }
    }
    try {
      await db.setVersion(key, 1)
      const readers = Array.from({ length: 8 }, reader)
      for (let version = 2; version <= 61; version++) {
        // 60 rounds
        await sleep(Math.random() * 10)
        await db.setVersion(key, version) // autocommit: committed when this resolves
        await cache.invalidate(key)
        committed = version
      }
      await sleep(50)
      stop = true
      await Promise.all(readers)

      assert.deepEqual(violations, [], `${violations.length} of ${reads} reads saw a value older than the last completed invalidation`)
      assert.equal((await cache.get(key, slowLoader))?.version, 61)
      assert.ok(
        (await metricValue(registry, 'cache_writes_rejected_total', { cache: 'race' })) > 0,
        'the race happened: some loads lost to an invalidation and were not written back',
      )
    } finally {
      stop = true
      await cache.close()
    }
  })

  it('a read that starts after invalidate() does not join a load that started before it', async () => {
    const cache = createCache<Product>({
      ...patientRedis,
      name: 'detach',
      redis: redis.redis,
      registry: new Registry(),
      ttlMs: 60_000,
      hotKeys: { threshold: 1 },
    })
    const { promise: gate, resolve: openGate } = Promise.withResolvers<void>()
    let loads = 0
    // The first load reads the row and then waits at the gate, still holding the old version.
    const gatedLoader: Loader<Product> = async (key) => {
      const { rows } = await db.pool.query<Product>('SELECT id, name, version FROM products WHERE id = $1', [key])
      if (++loads === 1) await gate
      return rows[0]
    }
    try {
      await db.setVersion('13', 1)
      const before = cache.get('13', gatedLoader)
      await waitFor('the first load to read the row', () => loads === 1)
      await db.setVersion('13', 2)
      await cache.invalidate('13')

      const afterInvalidate = cache.get('13', gatedLoader)
      openGate()
      assert.equal((await before)?.version, 1, 'the read that began before the write may see the old row')
      assert.equal((await afterInvalidate)?.version, 2, 'the read that began after the invalidation loads again')
      assert.equal(loads, 2)
      assert.equal((await cache.get('13', gatedLoader))?.version, 2, 'and the old load wrote nothing back (Redis nor L1)')
    } finally {
      await cache.close()
    }
  })

  it('an invalidation on one instance drops the L1 copy on another (Redis pub/sub)', async () => {
    const connB = redis.redis.duplicate()
    const subA = redis.redis.duplicate()
    const subB = redis.redis.duplicate()
    // L1 copies live 60 s here: only the message can explain B seeing the write within the test.
    const options = { name: 'pubsub', ttlMs: 60_000, l1: { ttlMs: 60_000 }, hotKeys: { threshold: 1 } }
    const registryB = new Registry()
    const a = createCache<Product>({ ...patientRedis, ...options, redis: redis.redis, subscriber: subA, registry: new Registry() })
    const b = createCache<Product>({ ...patientRedis, ...options, redis: connB, subscriber: subB, registry: registryB })
    try {
      await Promise.all([a.ready(), b.ready()])
      await db.setVersion('12', 1)
      assert.equal((await a.get('12', slowLoader))?.version, 1)
      assert.equal((await b.get('12', slowLoader))?.version, 1)
      assert.equal((await b.get('12', slowLoader))?.version, 1)
      assert.ok((await metricValue(registryB, 'cache_hits_total', { cache: 'pubsub', level: 'l1' })) >= 1, 'B holds the key in L1')

      await db.setVersion('12', 2)
      await a.invalidate('12')
      await waitFor('B to see version 2', async () => (await b.get('12', slowLoader))?.version === 2, 5_000)
      assert.equal(await metricValue(registryB, 'cache_invalidations_total', { cache: 'pubsub', origin: 'remote' }), 1)
    } finally {
      await a.close()
      await b.close()
      for (const c of [connB, subA, subB]) c.disconnect()
    }
  })
})
