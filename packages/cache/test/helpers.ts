export { metricValue, waitFor } from '@flashsale/testkit'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import pg from 'pg'
import type { Registry } from 'prom-client'
import type { Loader } from '../src/index.ts'

/**
 * For tests that are not about Redis failures: a generous timeout per Redis call. The default (500 ms)
 * can expire on a loaded 2-core machine running many suites at once, and the cache then correctly fails
 * open to the database — which would be counted against what those tests measure (queries, misses).
 */
export const patientRedis = { redisTimeoutMs: 5_000 } as const

export interface Product {
  readonly id: string
  readonly name: string
  readonly version: number
}

export interface ProductsDb {
  readonly testDb: TestDatabase
  readonly pool: pg.Pool
  /** Number of rows inserted, ids 1..count. */
  readonly count: number
  setVersion(id: string, version: number): Promise<void>
  cleanup(): Promise<void>
}

/**
 * A database of its own with `products(id, name, version)`, ids 1..count, and pg_stat_statements, which
 * counts the statements the server really ran. Its counters are per database, so suites running in
 * parallel on the same server never disturb each other's counts and nobody has to reset them.
 */
export async function createProductsDb(label: string, count = 100): Promise<ProductsDb> {
  const testDb = await createTestDatabase(label)
  const pool = new pg.Pool({ connectionString: testDb.primaryUrl, max: 10 })
  pool.on('error', () => {}) // an idle connection closed by the server; the next query opens another
  await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  await pool.query('CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, version int NOT NULL)')
  await pool.query(`INSERT INTO products SELECT g, 'product ' || g, 1 FROM generate_series(1, $1::int) g`, [count])
  return {
    testDb,
    pool,
    count,
    async setVersion(id, version) {
      await pool.query('UPDATE products SET version = $2 WHERE id = $1', [id, version])
    },
    async cleanup() {
      await pool.end()
      await testDb.cleanup()
    },
  }
}

export interface ProductLoader {
  readonly load: Loader<Product>
  /** How many times the server has executed the loader's statement in this database. */
  calls(): Promise<number>
}

/** The loader's one statement (pg_stat_statements keeps the text with its $n placeholders). */
export const PRODUCT_SQL = 'SELECT p.id, p.name, p.version FROM products p, pg_sleep($2) WHERE p.id = $1'

/**
 * The loader a catalog service would pass: one SELECT by primary key. `sleepSeconds` makes the statement
 * itself slow (pg_sleep in the same statement), so concurrent reads really overlap a load in flight.
 * `calls()` counts executions of the statement in this database by any loader: compare before and after.
 */
export function productLoader(pool: pg.Pool, sleepSeconds = 0): ProductLoader {
  return {
    async load(key) {
      const { rows } = await pool.query<Product>(PRODUCT_SQL, [key, sleepSeconds])
      return rows[0]
    },
    calls: () => statementCalls(pool, PRODUCT_SQL),
  }
}

export async function statementCalls(pool: pg.Pool, sql: string): Promise<number> {
  const { rows } = await pool.query<{ calls: string | null }>(
    `SELECT sum(calls) AS calls FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query = $1`,
    [sql],
  )
  return Number(rows[0]?.calls ?? 0)
}

/** `n` calls of `fn` started in the same tick. */
export function concurrently<R>(n: number, fn: (i: number) => Promise<R>): Promise<R[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)))
}

/** How many observations a histogram series has. */
export async function histogramCount(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const match = values.find(
    (v) => (v as { metricName?: string }).metricName === `${name}_count` && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  )
  return match?.value ?? 0
}
