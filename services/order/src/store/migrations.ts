/** Applies migrations/NNNN_*.sql to schema `orders` (advisory-locked: every instance may call it at boot). */
import { join } from 'node:path'
import { migrate, type AppliedMigration, type ConnectionSource } from '@flashsale/db'

export const ORDER_MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'migrations')

export function migrateOrders(pool: ConnectionSource): Promise<AppliedMigration[]> {
  return migrate(pool, { dir: ORDER_MIGRATIONS_DIR, schema: 'orders' })
}
