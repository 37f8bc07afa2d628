/**
 * Forward-only SQL migrations: `NNNN_name.sql` files applied in version order, each in its own
 * transaction, recorded in `<schema>.schema_migrations` with a checksum. Safe to run from every
 * instance at boot: an advisory lock lets one process apply and the others find nothing left to do.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import type { ConnectionSource } from './primary.ts'
import { isAcquireTimeout } from './errors.ts'

export interface MigrateOptions {
  /** Directory of `NNNN_name.sql` files (4-digit version, e.g. 0001_create_orders.sql). */
  readonly dir: string
  /** Schema that receives schema_migrations; created if missing. The files name their own objects' schemas. */
  readonly schema: string
}

export interface AppliedMigration {
  readonly version: number
  readonly name: string
  readonly file: string
}

export type MigrationErrorCode = 'DB_ERR_MIGRATION_FILE_NAME' | 'DB_ERR_MIGRATION_DUPLICATE_VERSION' | 'DB_ERR_MIGRATION_CHECKSUM' | 'DB_ERR_MIGRATION_FAILED'

export class MigrationError extends Error {
  readonly code: MigrationErrorCode
  /** The files concerned. */
  readonly files: readonly string[]
  constructor(code: MigrationErrorCode, files: readonly string[], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'MigrationError'
    this.code = code
    this.files = files
  }
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/i

interface MigrationFile extends AppliedMigration {
  readonly sql: string
  readonly checksum: string
}

/** A migration's statements may wait long (another instance's migration, a lock); not forever. */
const MIGRATION_QUERY_TIMEOUT_MS = 15 * 60_000

/**
 * A connection for the migration, tried a few times: the pool's acquire timeout is a request's budget (a
 * quarter of a second with requestBudget), and a busy machine starting every service at once may take
 * longer than that to open the first connection.
 */
async function connectForMigration(pool: ConnectionSource): Promise<pg.PoolClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.connect()
    } catch (err) {
      if (attempt >= 20 || !isAcquireTimeout(err)) throw err
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/** Applies the pending migrations of `dir`; returns those applied by this call, in order. */
export async function migrate(pool: ConnectionSource, { dir, schema }: MigrateOptions): Promise<AppliedMigration[]> {
  const files = await readMigrations(dir) // bad names fail before touching the database
  const table = `${pg.escapeIdentifier(schema)}.schema_migrations`
  const client = await connectForMigration(pool)
  let failure: Error | undefined
  const onError = (err: Error) => void (failure = err) // a dropped connection must not be an uncaught 'error'
  client.on('error', onError)
  const run = <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) =>
    client.query<R>({ text, values, query_timeout: MIGRATION_QUERY_TIMEOUT_MS } as pg.QueryConfig)
  try {
    // Session-level lock held across all files, taken before CREATE SCHEMA IF NOT EXISTS (which races
    // with itself): concurrent callers queue here, then see what the first one recorded.
    // Waiting for another instance's migration, or a lock of a busy table, is not a slow request: the pool's
    // budget (requestBudget: statement_timeout on the server, query_timeout in the client) does not apply here.
    // RESET below gives the connection its own statement_timeout back; query_timeout is per query (timed below).
    await run('SET statement_timeout = 0')
    await run('SELECT pg_advisory_lock(hashtext($1))', [`flashsale.migrate:${schema}`])
    await run(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`)
    await run(`CREATE TABLE IF NOT EXISTS ${table} (
      version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const { rows } = await run<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${table}`)
    const applied = new Map(rows.map((r) => [r.version, r.checksum]))

    // An edited migration means the databases that ran it differ from those that will: refuse.
    const changed = files.filter((f) => applied.has(f.version) && applied.get(f.version) !== f.checksum).map((f) => f.file)
    if (changed.length > 0) {
      throw new MigrationError(
        'DB_ERR_MIGRATION_CHECKSUM',
        changed,
        `Applied migration(s) changed since they ran: ${changed.join(', ')}. Add a new migration instead of editing one.`,
      )
    }

    const done: AppliedMigration[] = []
    for (const f of files.filter((f) => !applied.has(f.version))) {
      await run('BEGIN')
      try {
        await run(f.sql)
        await run(`INSERT INTO ${table} (version, name, checksum) VALUES ($1, $2, $3)`, [f.version, f.name, f.checksum])
        await run('COMMIT')
      } catch (err) {
        await run('ROLLBACK').catch(() => {}) // the connection is destroyed below anyway
        throw new MigrationError('DB_ERR_MIGRATION_FAILED', [f.file], `Migration ${f.file} failed: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        })
      }
      done.push({ version: f.version, name: f.name, file: f.file })
    }
    await run('SELECT pg_advisory_unlock(hashtext($1))', [`flashsale.migrate:${schema}`])
    await run('RESET statement_timeout')
    return done
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err))
    pool.reportError?.(err instanceof MigrationError && err.cause !== undefined ? err.cause : err, client)
    throw err
  } finally {
    client.off('error', onError)
    // On failure, destroying the connection ends the session, which releases the advisory lock.
    client.release(failure)
  }
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const sqlFiles = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const bad = sqlFiles.filter((f) => !FILE_NAME.test(f))
  if (bad.length > 0) {
    throw new MigrationError(
      'DB_ERR_MIGRATION_FILE_NAME',
      bad,
      `Migration file names must look like 0001_create_orders.sql (4 digits, underscore, name); bad: ${bad.join(', ')}`,
    )
  }
  const files: MigrationFile[] = []
  for (const file of sqlFiles) {
    const [, version = '', name = ''] = FILE_NAME.exec(file) ?? []
    const sql = await readFile(join(dir, file), 'utf8')
    files.push({ version: Number(version), name, file, sql, checksum: createHash('sha256').update(sql).digest('hex') })
  }
  const seen = new Map<number, string>()
  for (const f of files) {
    const other = seen.get(f.version)
    if (other) throw new MigrationError('DB_ERR_MIGRATION_DUPLICATE_VERSION', [other, f.file], `Two migrations share version ${f.version}: ${other}, ${f.file}`)
    seen.set(f.version, f.file)
  }
  return files.sort((a, b) => a.version - b.version)
}
