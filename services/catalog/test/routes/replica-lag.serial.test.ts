/**
 * Pauses WAL replay on both shared replicas (every suite's databases stall on them): a serial suite, run
 * alone after the parallel ones, and replay is resumed however the test ends.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { startHarness, waitFor, type Harness } from '../helpers.ts'

describe('catalog under replica lag', () => {
  let h: Harness
  let replicas: pg.Client[] = []
  const resume = () => Promise.all(replicas.map((c) => c.query('SELECT pg_wal_replay_resume()')))

  before(async () => {
    // A generous lag bound keeps the router on the lagging replicas, so "others see the old value" shows.
    h = await startHarness('lag', { maxReplicaLagMs: 600_000 })
    replicas = h.testDb.replicaUrls.map((url) => new pg.Client({ connectionString: url }))
    await Promise.all(replicas.map((c) => c.connect()))
  })
  after(async () => {
    await resume().catch((err: unknown) => console.error('could not resume WAL replay', err))
    await Promise.all(replicas.map((c) => c.end()))
    await h?.close()
  })

  it('the writer reads their own write at once; others see the old list until the replicas catch up', async () => {
    const writer = await h.adminToken('lag-writer')
    const anyone = await h.buyerToken('lag-reader')
    const listed = async (token: string) => (await h.get('/products?category=lagged', token)).json().products.length as number
    await waitFor('schema on the replicas', async () => {
      for (const c of replicas) if ((await c.query(`SELECT to_regclass('catalog.products') IS NOT NULL AS t`)).rows[0]?.t !== true) return false
      return true
    })
    try {
      await Promise.all(replicas.map((c) => c.query('SELECT pg_wal_replay_pause()')))
      await waitFor('replay paused', async () => {
        for (const c of replicas) if ((await c.query('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]?.s !== 'paused') return false
        return true
      })
      const p = await h.createProduct({ category: 'lagged', name: 'Lagged' }, 'lag-writer')

      assert.equal(await listed(writer), 1, 'the writer sees their product (primary, read-your-own-writes)')
      assert.equal(await listed(anyone), 0, 'another reader still sees the replicas, which have not replayed it')
      // The product page itself is loaded from the primary by the cache (loaders never read replicas).
      assert.equal((await h.get(`/products/${p.id}`, anyone)).statusCode, 200)
    } finally {
      await resume()
    }
    await waitFor('the replicas to catch up', async () => (await listed(anyone)) === 1)
  })
})
