/** The review schema's migrations (../../migrations), applied with @flashsale/db's migrate(). */
import { join } from 'node:path'
import type pg from 'pg'
import { migrate, type AppliedMigration } from '@flashsale/db'

export const SCHEMA = 'review'
export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'migrations')

export function migrateReview(pool: pg.Pool): Promise<AppliedMigration[]> {
  return migrate(pool, { dir: MIGRATIONS_DIR, schema: SCHEMA })
}
