/** The inventory schema's migrations (../../migrations), applied with @flashsale/db's migrate(). */
import { join } from 'node:path'
import { migrate, type AppliedMigration, type ConnectionSource } from '@flashsale/db'

export const SCHEMA = 'inventory'
export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'migrations')

export function migrateInventory(pool: ConnectionSource): Promise<AppliedMigration[]> {
  return migrate(pool, { dir: MIGRATIONS_DIR, schema: SCHEMA })
}
