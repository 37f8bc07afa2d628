import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { startHarness, type Harness } from '../helpers.ts'

const run = promisify(execFile)
const SEED_BIN = join(import.meta.dirname, '..', '..', 'src', 'bin', 'seed.ts')

describe('the seed command', () => {
  let h: Harness
  before(async () => {
    h = await startHarness('seed')
  })
  after(() => h?.close())

  const seed = (args: string[]) =>
    run(process.execPath, [SEED_BIN, ...args], { env: { ...process.env, PG_PRIMARY_URL: h.testDb.primaryUrl, REDIS_URL: '', PATH: process.env['PATH'] ?? '' } })

  it('upserts 10,000 products, and running it again changes nothing', async () => {
    const first = await seed(['--seed', '42', '--count', '10000'])
    assert.match(first.stdout, /10000 products, 10000 inserted or changed/)
    const { rows } = await h.db.query<{ n: number; skus: number }>('SELECT count(*)::int AS n, count(DISTINCT sku)::int AS skus FROM catalog.products')
    assert.deepEqual(rows[0], { n: 10_000, skus: 10_000 })
    const stamp = (await h.db.query('SELECT max(updated_at) AS t FROM catalog.products')).rows[0]
    const again = await seed(['--seed', '42', '--count', '10000'])
    assert.match(again.stdout, /0 inserted or changed/)
    assert.deepEqual((await h.db.query('SELECT max(updated_at) AS t FROM catalog.products')).rows[0], stamp)
  })

  it('rejects a bad count without touching the database', async () => {
    await assert.rejects(seed(['--count', 'lots']), (err: { code?: number }) => err.code === 2)
  })
})
