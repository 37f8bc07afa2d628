import { waitFor as poll } from '@flashsale/testkit'
export { assertProblem, metricValue } from '@flashsale/testkit'
/** Polls until `probe` holds (15_000 ms by default: these suites wait on replicas and Kafka). */
export const waitFor = (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> => poll(what, probe, timeoutMs, 50)
/**
 * Builds the catalog app in-process on the real stack: a database of its own (migrated, with
 * pg_stat_statements), a Redis key prefix of its own, real ES256 tokens. HTTP goes through app.inject().
 */
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys } from '@flashsale/auth'
import { createDatabase, createRedisRecentWrites, type Database } from '@flashsale/db'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@flashsale/testkit'
import { buildApp, type Deps } from '../src/app.ts'
import { readConfig, type Config } from '../src/config.ts'
import { migrateCatalog } from '../src/store/migrations.ts'

export interface Harness {
  readonly app: FastifyInstance
  readonly db: Database
  readonly redis: Redis
  readonly testDb: TestDatabase
  readonly metrics: ProcessMetrics
  readonly config: Config
  adminToken(userId?: string): Promise<string>
  buyerToken(userId: string): Promise<string>
  /** POST /admin/products with defaults for what is not given; returns the product JSON. */
  createProduct(overrides?: Record<string, unknown>, admin?: string): Promise<Record<string, unknown> & { id: string }>
  get(url: string, token?: string): Promise<LightMyRequestResponse>
  /** Every row of catalog.products, ordered by id (to prove that a refused request changed nothing). */
  snapshot(): Promise<unknown[]>
  /** Executions of `sql` in this suite's database, as counted by the server (pg_stat_statements). */
  statementCalls(sql: string): Promise<number>
  close(): Promise<void>
}

export interface HarnessOptions {
  readonly env?: Record<string, string>
  /** Replica URLs for the read router instead of the suite database's (e.g. through a Toxiproxy proxy). */
  readonly replicaUrls?: (urls: readonly string[]) => readonly string[]
  /** The primary's URL for the service instead of the suite database's (e.g. through a Toxiproxy proxy). */
  readonly primaryUrl?: (url: string) => string
  /** The service's Redis URL instead of the suite's (e.g. through a Toxiproxy proxy); same key prefix. */
  readonly redisUrl?: (url: string) => string
  readonly maxReplicaLagMs?: number
  readonly sales?: Deps['sales']
}

const quietLog = () =>
  createLogger({ service: 'catalog-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) })
    .logger

let counter = 0
export const uid = (label: string): string => `${label}-${process.pid}-${++counter}`

export async function startHarness(label: string, options: HarnessOptions = {}): Promise<Harness> {
  const testDb: TestDatabase = await createTestDatabase(`cat_${label}`)
  const testRedis: TestRedis = await createTestRedis(`cat_${label}`)
  const keys = await generateSigningKeys()
  const issuer = await createTokenIssuer(keys.privateJwk)
  const verifier = await createTokenVerifier(keys.publicJwk)
  const replicaUrls = options.replicaUrls ? options.replicaUrls(testDb.replicaUrls) : testDb.replicaUrls
  const primaryUrl = options.primaryUrl ? options.primaryUrl(testDb.primaryUrl) : testDb.primaryUrl
  const config = readConfig({
    AUTH_JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
    PG_PRIMARY_URL: primaryUrl,
    PG_REPLICA_URLS: replicaUrls.join(','),
    REDIS_URL: testRedis.url,
    BLOOM_EXPECTED_ITEMS: '10000',
    // Tests that count queries must not see a read fail open because a loaded machine was slow (cache README).
    CACHE_REDIS_TIMEOUT_MS: '5000',
    ...options.env,
  })
  const metrics = createProcessMetrics({ service: 'catalog-test' })
  // The service's own client, as server.ts configures it, when the test reroutes it; else the suite's.
  const redis = options.redisUrl ? new Redis(options.redisUrl(testRedis.url), { keyPrefix: testRedis.prefix, maxRetriesPerRequest: 1 }) : testRedis.redis
  if (options.redisUrl) redis.on('error', () => {})
  const db = createDatabase({
    primaryUrl,
    replicaUrls,
    recentWrites: createRedisRecentWrites(redis, { windowMs: config.READ_YOUR_WRITES_MS }),
    registry: metrics.registry,
    ...(options.maxReplicaLagMs !== undefined ? { maxReplicaLagMs: options.maxReplicaLagMs } : {}),
    healthCheckIntervalMs: 200,
    poolOptions: { name: 'catalog-test', max: 10, min: 0 },
  })
  await migrateCatalog(db.primary)
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  const app = await buildApp(config, { logger: quietLog(), metrics, db, redis, verifier, ...(options.sales ? { sales: options.sales } : {}) })
  await app.ready()

  const tokens = new Map<string, Promise<string>>()
  const token = (userId: string, admin: boolean) => {
    const key = `${admin}:${userId}`
    let t = tokens.get(key)
    if (!t) tokens.set(key, (t = issuer.issue({ userId, roles: admin ? ['admin'] : ['buyer'] })))
    return t
  }

  const harness: Harness = {
    app,
    db,
    redis: testRedis.redis,
    testDb,
    metrics,
    config,
    adminToken: (userId = 'ops') => token(userId, true),
    buyerToken: (userId) => token(userId, false),
    async createProduct(overrides = {}, admin = 'ops') {
      const n = uid('p')
      const payload = {
        id: n,
        sku: `SKU-${n}`,
        name: `Product ${n}`,
        category: 'phones',
        priceCents: 1999,
        imageUrl: 'https://img.example/p.jpg',
        description: 'd',
        ...overrides,
      }
      const res = await app.inject({ method: 'POST', url: '/admin/products', headers: { authorization: `Bearer ${await token(admin, true)}` }, payload })
      if (res.statusCode !== 201) throw new Error(`creating a product answered ${res.statusCode}: ${res.body}`)
      return res.json().product
    },
    async get(url, t) {
      return app.inject({ method: 'GET', url, ...(t ? { headers: { authorization: `Bearer ${t}` } } : {}) })
    },
    async snapshot() {
      return (await db.query('SELECT * FROM catalog.products ORDER BY id')).rows
    },
    async statementCalls(sql) {
      const { rows } = await db.query<{ calls: string | null }>(
        `SELECT sum(calls) AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query = $1`,
        [sql],
      )
      return Number(rows[0]?.calls ?? 0)
    },
    async close() {
      await app.close()
      metrics.stop()
      await db.close()
      if (redis !== testRedis.redis) redis.disconnect()
      await testRedis.cleanup()
      await testDb.cleanup()
    },
  }
  return harness
}
