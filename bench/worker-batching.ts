/**
 * Worker persistence, batched vs one transaction per order, side by side in one run on the real
 * PostgreSQL primary (the project's goal, docs/benchmarks.md: >= 20x). Both arms run the worker's own SQL (persistBatch: insert,
 * inventory.commit_units per order, rejections) against one hot sale row, which is the flash-sale case:
 * every order contends for the same stock row.
 *
 *   node --env-file=.local/stack.env bench/worker-batching.ts [--orders 3000] [--batch 500] [--rounds 3]
 *
 * Writes bench/results/worker-batching.json and prints the ratio. Arms alternate per round so that
 * machine noise (other processes, autovacuum) hits both; the ratio is of medians.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { v7 as uuidv7 } from 'uuid'
import { createPool, withTransaction } from '@flashsale/db'
import { createTestDatabase } from '@flashsale/testkit'
import { migrateInventory } from '../services/inventory/src/store/migrations.ts'
import { migrateOrders } from '../services/order/src/store/migrations.ts'
import { persistBatch, type OrderToPersist } from '../services/order/src/store/orders-store.ts'

const { values } = parseArgs({
  options: { orders: { type: 'string', default: '3000' }, batch: { type: 'string', default: '500' }, rounds: { type: 'string', default: '3' } },
})
const ORDERS = Number(values.orders)
const BATCH = Number(values.batch)
const ROUNDS = Number(values.rounds)

const testDb = await createTestDatabase('bench_worker')
const pool = createPool(testDb.primaryUrl, { role: 'primary', name: 'bench', max: 4, min: 1 })

async function freshSale(): Promise<string> {
  const id = `bench-${randomUUID().slice(0, 8)}`
  await pool.query(
    `INSERT INTO inventory.sales (id, sku, total_units, per_user_limit, starts_at, ends_at, state) VALUES ($1, $1, $2, 1, now() - interval '1 hour', now() + interval '1 hour', 'active')`,
    [id, ORDERS],
  )
  await pool.query('INSERT INTO inventory.stock (sale_id, total) VALUES ($1, $2)', [id, ORDERS])
  return id
}

function orders(saleId: string): OrderToPersist[] {
  const now = new Date()
  return Array.from({ length: ORDERS }, (_, i) => ({
    orderId: uuidv7(),
    userId: `u-${i}`,
    saleId,
    sku: saleId,
    qty: 1,
    idempotencyKey: randomUUID(),
    reservationExpiresAt: new Date(now.getTime() + 600_000).toISOString(),
    requestedAt: now.toISOString(),
  }))
}

async function arm(batchSize: number): Promise<number> {
  const saleId = await freshSale()
  const all = orders(saleId)
  const start = process.hrtime.bigint()
  for (let i = 0; i < all.length; i += batchSize) {
    const batch = all.slice(i, i + batchSize)
    await withTransaction(pool, (client) => persistBatch(client, batch))
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const { rows } = await pool.query<{ sold: number }>('SELECT sold FROM inventory.stock WHERE sale_id = $1', [saleId])
  if (rows[0]?.sold !== ORDERS) throw new Error(`arm with batch ${batchSize} sold ${rows[0]?.sold}, expected ${ORDERS}`)
  return ORDERS / seconds
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

try {
  await migrateInventory(pool)
  await migrateOrders(pool)
  await arm(BATCH) // warm-up: plans, caches, WAL segments
  const batched: number[] = []
  const single: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    batched.push(await arm(BATCH))
    single.push(await arm(1))
  }
  const result = {
    case: 'worker-batching',
    date: new Date().toISOString(),
    orders: ORDERS,
    batchSize: BATCH,
    rounds: ROUNDS,
    unit: 'orders/s',
    throughput: { batched: Math.round(median(batched)), oneTransactionPerOrder: Math.round(median(single)) },
    samples: { batched: batched.map(Math.round), oneTransactionPerOrder: single.map(Math.round) },
    ratio: Math.round((median(batched) / median(single)) * 10) / 10,
    goal: 20,
    machine: 'shared 2-core machine; absolute numbers are noisy, the ratio is the result',
  }
  const dir = join(import.meta.dirname, 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'worker-batching.json'), `${JSON.stringify(result, null, 2)}\n`)
  console.log(
    `batched (${BATCH}/tx): ${result.throughput.batched} orders/s; one tx per order: ${result.throughput.oneTransactionPerOrder} orders/s; ratio ${result.ratio}x (goal >= 20x)`,
  )
} finally {
  await pool.end()
  await testDb.cleanup()
}
