import { waitFor as poll } from '@flashsale/testkit'
export { assertProblem, metricValue } from '@flashsale/testkit'
/** Polls until `probe` holds (30_000 ms by default: these suites wait on replicas and Kafka). */
export const waitFor = (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> => poll(what, probe, timeoutMs, 50)
/**
 * Builds the review app in-process on the real stack: a database of its own (migrated), a Redis key prefix
 * of its own, real ES256 tokens. The catalog is a real HTTP server standing in for the catalog's
 * GET /products/:id (its JSON shape: { product: { id, sku, ... } }), reached through the real client.
 */
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys } from '@flashsale/auth'
import { createDatabase, createRedisRecentWrites, type Database } from '@flashsale/db'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@flashsale/testkit'
import { buildApp } from '../src/app.ts'
import { createCatalogClient } from '../src/clients/catalog-client.ts'
import { readConfig, type Config } from '../src/config.ts'
import type { Purchase } from '../src/domain/review.ts'
import { createPurchaseStore } from '../src/store/purchase-store.ts'
import { migrateReview } from '../src/store/migrations.ts'

export interface Harness {
  readonly app: FastifyInstance
  readonly db: Database
  readonly testDb: TestDatabase
  readonly metrics: ProcessMetrics
  readonly config: Config
  /** The catalog stand-in: product id → SKU. */
  readonly catalogProducts: Map<string, string>
  setCatalogUp(up: boolean): void
  token(userId: string): Promise<string>
  /** Records a purchase in the read model directly (as the projector would). */
  buy(userId: string, sku: string, status?: Purchase['status'], orderId?: string): Promise<void>
  post(productId: string, userId: string | null, payload: unknown): Promise<LightMyRequestResponse>
  get(url: string, userId?: string): Promise<LightMyRequestResponse>
  snapshot(): Promise<unknown[]>
  close(): Promise<void>
}

const quietLog = () =>
  createLogger({ service: 'review-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) })
    .logger

let counter = 0
export const uid = (label: string): string => `${label}-${process.pid}-${++counter}`

export async function startHarness(label: string): Promise<Harness> {
  const testDb: TestDatabase = await createTestDatabase(`rev_${label}`)
  const testRedis: TestRedis = await createTestRedis(`rev_${label}`)
  const keys = await generateSigningKeys()
  const issuer = await createTokenIssuer(keys.privateJwk)
  const verifier = await createTokenVerifier(keys.publicJwk)

  const catalogProducts = new Map<string, string>()
  let catalogUp = true
  const catalog = Fastify()
  catalog.get<{ Params: { id: string } }>('/products/:id', async (req, reply) => {
    if (!catalogUp) return reply.code(503).send({ code: 'DOWN' })
    const sku = catalogProducts.get(req.params.id)
    if (!sku) return reply.code(404).send({ code: 'CATALOG_ERR_PRODUCT_NOT_FOUND' })
    return { product: { id: req.params.id, sku, name: 'n' } }
  })
  const catalogUrl = await catalog.listen({ host: '127.0.0.1', port: 0 })

  const config = readConfig({
    AUTH_JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
    PG_PRIMARY_URL: testDb.primaryUrl,
    PG_REPLICA_URLS: testDb.replicaUrls.join(','),
    REDIS_URL: testRedis.url,
    CATALOG_URLS: catalogUrl,
    CACHE_REDIS_TIMEOUT_MS: '5000',
  })
  const metrics = createProcessMetrics({ service: 'review-test' })
  const db = createDatabase({
    primaryUrl: testDb.primaryUrl,
    replicaUrls: testDb.replicaUrls,
    recentWrites: createRedisRecentWrites(testRedis.redis, { windowMs: config.READ_YOUR_WRITES_MS }),
    registry: metrics.registry,
    poolOptions: { name: 'review-test', max: 10, min: 0 },
  })
  await migrateReview(db.primary)
  const app = await buildApp(config, {
    logger: quietLog(),
    metrics,
    db,
    redis: testRedis.redis,
    verifier,
    products: createCatalogClient({ urls: [catalogUrl], timeoutMs: 2_000 }),
  })
  await app.ready()
  const purchases = createPurchaseStore(db)

  const tokens = new Map<string, Promise<string>>()
  const token = (userId: string) => {
    let t = tokens.get(userId)
    if (!t) tokens.set(userId, (t = issuer.issue({ userId, roles: ['buyer'] })))
    return t
  }

  return {
    app,
    db,
    testDb,
    metrics,
    config,
    catalogProducts,
    setCatalogUp: (up) => void (catalogUp = up),
    token,
    async buy(userId, sku, status = 'confirmed', orderId = uid('order')) {
      await purchases.apply([{ orderId, userId, sku, qty: 1, status, occurredAt: new Date().toISOString() }])
    },
    async post(productId, userId, payload) {
      return app.inject({
        method: 'POST',
        url: `/products/${productId}/reviews`,
        ...(userId ? { headers: { authorization: `Bearer ${await token(userId)}` } } : {}),
        payload: payload as Record<string, unknown>,
      })
    },
    async get(url, userId) {
      return app.inject({ method: 'GET', url, ...(userId ? { headers: { authorization: `Bearer ${await token(userId)}` } } : {}) })
    },
    async snapshot() {
      const reviews = (await db.query('SELECT * FROM review.reviews ORDER BY id')).rows
      const bought = (await db.query('SELECT * FROM review.verified_purchases ORDER BY order_id')).rows
      return [reviews, bought]
    },
    async close() {
      await app.close()
      await catalog.close()
      metrics.stop()
      await db.close()
      await testRedis.cleanup()
      await testDb.cleanup()
    },
  }
}
