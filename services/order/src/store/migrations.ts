/** Applies migrations/NNNN_*.sql to schema `orders` (advisory-locked: every instance may call it at boot). */
import { join } from 'node:path'
import type pg from 'pg'
import { migrate, type AppliedMigration } from '@flashsale/db'

export const ORDER_MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'migrations')

export function migrateOrders(pool: pg.Pool): Promise<AppliedMigration[]> {
  return migrate(pool, { dir: ORDER_MIGRATIONS_DIR, schema: 'orders' })
}
