/**
 * The demo's migration step: applies every service's migrations (each service also applies its own at boot,
 * under an advisory lock, so this is only the same work done once, visibly, before anything starts).
 *
 *   node --env-file=.local/stack.env tools/demo/src/migrate.ts
 */
import { createPrimaryPool } from '@flashsale/db'
import { Type, loadConfig, stackEnv } from '@flashsale/config'
import { migrateCatalog } from '../../../services/catalog/src/store/migrations.ts'
import { migrateInventory } from '../../../services/inventory/src/store/migrations.ts'
import { migrateOrders } from '../../../services/order/src/store/migrations.ts'
import { migrateReview } from '../../../services/review/src/store/migrations.ts'

const env = loadConfig(Type.Object({ PG_PRIMARY_URL: stackEnv.PG_PRIMARY_URL }), process.env)
const pool = createPrimaryPool(env.PG_PRIMARY_URL, { role: 'primary', name: 'demo-migrate', max: 1, min: 0 })
try {
  for (const [service, migrate] of [
    ['catalog', migrateCatalog],
    ['inventory', migrateInventory],
    ['order', migrateOrders],
    ['review', migrateReview],
  ] as const) {
    const applied = await migrate(pool)
    console.log(`    ${service.padEnd(9)} ${applied.length === 0 ? 'up to date' : `applied ${applied.map((m) => m.file).join(', ')}`}`)
  }
} finally {
  await pool.end()
}
