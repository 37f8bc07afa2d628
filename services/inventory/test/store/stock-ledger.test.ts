import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createDatabase, withTransaction, type Database } from '@flashsale/db'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import { migrateInventory } from '../../src/store/migrations.ts'

let testDb: TestDatabase
let db: Database
before(async () => {
  testDb = await createTestDatabase('inv_ledger')
  db = createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: [], poolOptions: { name: 'ledger-test', max: 20, min: 0 } })
  await migrateInventory(db.primary)
})
after(async () => {
  await db.close()
  await testDb.cleanup()
})

let n = 0
async function sale(total: number, perUserLimit = 1000): Promise<string> {
  const id = `ledger-${++n}`
  await db.query(
    `INSERT INTO inventory.sales (id, sku, total_units, per_user_limit, starts_at, ends_at) VALUES ($1, 'SKU', $2, $3, now(), now() + interval '1 hour')`,
    [id, total, perUserLimit],
  )
  await db.query('INSERT INTO inventory.stock (sale_id, total) VALUES ($1, $2)', [id, total])
  return id
}
const sold = async (id: string) => (await db.query<{ sold: number }>('SELECT sold FROM inventory.stock WHERE sale_id = $1', [id])).rows[0]?.sold
const call = async (sql: string, params: unknown[]) => (await db.query<{ r: number }>(`SELECT ${sql} AS r`, params)).rows[0]?.r

describe('inventory.commit_units', () => {
  it('takes units and returns what is left; refuses (-1, nothing changed) when the units would exceed the total', async () => {
    const id = await sale(5)
    assert.equal(await call('inventory.commit_units($1, $2)', [id, 3]), 2)
    assert.equal(await call('inventory.commit_units($1, $2)', [id, 3]), -1)
    assert.equal(await sold(id), 3)
    assert.equal(await call('inventory.commit_units($1, $2)', [id, 2]), 0)
    assert.equal(await call('inventory.commit_units($1, $2)', [id, 1]), -1)
    assert.equal(await sold(id), 5)
  })

  it('50 concurrent transactions taking 1 unit each from 10 → exactly 10 succeed, sold = 10', async () => {
    const id = await sale(10)
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        withTransaction(db.primary, async (tx) => (await tx.query<{ r: number }>('SELECT inventory.commit_units($1, 1) AS r', [id])).rows[0]?.r),
      ),
    )
    assert.equal(results.filter((r) => r !== undefined && r >= 0).length, 10)
    assert.equal(results.filter((r) => r === -1).length, 40)
    assert.equal(await sold(id), 10)
  })

  it('rolls back with the caller: an order insert that fails takes its stock change with it', async () => {
    const id = await sale(5)
    await assert.rejects(
      withTransaction(db.primary, async (tx) => {
        await tx.query('SELECT inventory.commit_units($1, 2)', [id])
        throw new Error('the order insert failed')
      }),
    )
    assert.equal(await sold(id), 0)
  })

  it('answers -1 for an unknown sale and refuses a non-positive quantity', async () => {
    assert.equal(await call('inventory.commit_units($1, $2)', ['no-such-sale', 1]), -1)
    const id = await sale(5)
    await assert.rejects(call('inventory.commit_units($1, $2)', [id, 0]), /units must be positive/)
    await assert.rejects(call('inventory.commit_units($1, $2)', [id, -2]), /units must be positive/)
    assert.equal(await sold(id), 0)
  })

  it('the ledger itself refuses sold above total, whatever the caller does', async () => {
    const id = await sale(2)
    await assert.rejects(db.query('UPDATE inventory.stock SET sold = 3 WHERE sale_id = $1', [id]), /stock_sold_check/)
  })
})

describe('inventory.return_units', () => {
  it('gives units back and never goes below zero', async () => {
    const id = await sale(5)
    await call('inventory.commit_units($1, $2)', [id, 2])
    assert.equal(await call('inventory.return_units($1, $2)', [id, 1]), 4)
    assert.equal(await call('inventory.return_units($1, $2)', [id, 5]), 5)
    assert.equal(await sold(id), 0)
    assert.equal(await call('inventory.return_units($1, $2)', [id, 1]), 5)
    assert.equal(await sold(id), 0)
    assert.equal(await call('inventory.return_units($1, $2)', ['no-such-sale', 1]), -1)
  })
})

describe('the per-user forms', () => {
  it('commit_units(sale, units, user) also holds the per-user limit: -2 and nothing changed when exceeded', async () => {
    const id = await sale(10, 2)
    assert.equal(await call('inventory.commit_units($1, $2, $3)', [id, 1, 'u1']), 9)
    assert.equal(await call('inventory.commit_units($1, $2, $3)', [id, 2, 'u1']), -2)
    assert.equal(await call('inventory.commit_units($1, $2, $3)', [id, 3, 'u2']), -2)
    assert.equal(await sold(id), 1)
    assert.equal(await call('inventory.commit_units($1, $2, $3)', [id, 1, 'u1']), 8)
    const units = await db.query<{ user_id: string; units: number }>('SELECT user_id, units FROM inventory.user_units WHERE sale_id = $1', [id])
    assert.deepEqual(units.rows, [{ user_id: 'u1', units: 2 }])
  })

  it('concurrent per-user commits of one buyer never exceed the limit', async () => {
    const id = await sale(100, 3)
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        withTransaction(db.primary, async (tx) => (await tx.query<{ r: number }>('SELECT inventory.commit_units($1, 1, $2) AS r', [id, 'greedy'])).rows[0]?.r),
      ),
    )
    assert.equal(results.filter((r) => r !== undefined && r >= 0).length, 3)
    assert.equal(await sold(id), 3)
  })

  it('commit_units_batch answers each item as commit_units would, in order, and writes the ledger once', async () => {
    const batched = await sale(5, 2)
    const sequential = await sale(5, 2)
    const users = ['a', 'b', 'a', 'a', 'c', 'd', 'e', 'b']
    const units = [1, 2, 1, 1, 1, 1, 1, 1]
    const got = (await db.query<{ r: number[] }>('SELECT inventory.commit_units_batch($1, $2, $3) AS r', [batched, users, units])).rows[0]?.r
    const want: number[] = []
    for (let i = 0; i < users.length; i++) want.push((await call('inventory.commit_units($1, $2, $3)', [sequential, units[i], users[i]])) as number)
    // a:1 → 4, b:2 → 2, a:1 → 1, a:1 → -2 (limit), c:1 → 0, d:1 → -1 (sold out), e → -1, b → -1
    assert.deepEqual(got, [4, 2, 1, -2, 0, -1, -1, -1])
    assert.deepEqual(got, want)
    assert.equal(await sold(batched), 5)
    const held = await db.query<{ user_id: string; units: number }>('SELECT user_id, units FROM inventory.user_units WHERE sale_id = $1 ORDER BY user_id', [
      batched,
    ])
    assert.deepEqual(held.rows, [
      { user_id: 'a', units: 2 },
      { user_id: 'b', units: 2 },
      { user_id: 'c', units: 1 },
    ])
  })

  it('commit_units_batch counts what the buyer already holds, refuses bad input, and answers -1 for an unknown sale', async () => {
    const id = await sale(10, 2)
    assert.equal(await call('inventory.commit_units($1, $2, $3)', [id, 1, 'u1']), 9)
    const r = (await db.query<{ r: number[] }>('SELECT inventory.commit_units_batch($1, $2, $3) AS r', [id, ['u1', 'u1'], [1, 1]])).rows[0]?.r
    assert.deepEqual(r, [8, -2])
    await assert.rejects(db.query('SELECT inventory.commit_units_batch($1, $2, $3)', [id, ['u1'], [0]]), /positive/)
    await assert.rejects(db.query('SELECT inventory.commit_units_batch($1, $2, $3)', [id, ['u1', 'u2'], [1]]), /2 users for 1/)
    assert.deepEqual((await db.query<{ r: number[] }>('SELECT inventory.commit_units_batch($1, $2, $3) AS r', ['nope', ['u1'], [1]])).rows[0]?.r, [-1])
  })

  it('concurrent commit_units_batch calls on one sale never oversell', async () => {
    const id = await sale(50, 1)
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, b) =>
        withTransaction(db.primary, async (tx) => {
          const users = Array.from({ length: 10 }, (_, i) => `c${b}-${i}`)
          return (await tx.query<{ r: number[] }>('SELECT inventory.commit_units_batch($1, $2, $3) AS r', [id, users, users.map(() => 1)])).rows[0]?.r ?? []
        }),
      ),
    )
    assert.equal(results.flat().filter((x) => x >= 0).length, 50)
    assert.equal(await sold(id), 50)
  })

  it('return_units(sale, units, user) lowers both counts, neither below zero', async () => {
    const id = await sale(10, 5)
    await call('inventory.commit_units($1, $2, $3)', [id, 2, 'u1'])
    assert.equal(await call('inventory.return_units($1, $2, $3)', [id, 3, 'u1']), 10)
    const { rows } = await db.query<{ units: number }>('SELECT units FROM inventory.user_units WHERE sale_id = $1 AND user_id = $2', [id, 'u1'])
    assert.equal(rows[0]?.units, 0)
    assert.equal(await sold(id), 0)
  })
})
