/**
 * Builds the inventory app in-process on the real stack: a database of its own (migrated), a Redis key
 * prefix of its own, real ES256 tokens, and a clock the test can move. HTTP goes through app.inject().
 */
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys, type TokenIssuer } from '@flashsale/auth'
import { createDatabase, type Database } from '@flashsale/db'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@flashsale/testkit'
import { buildApp } from '../src/app.ts'
import { readConfig, type Config } from '../src/config.ts'
import { saleKeys } from '../src/store/gate-store.ts'
import { migrateInventory } from '../src/store/migrations.ts'

/** Real time plus an offset the test moves forward or back. */
export interface TestClock {
  now(): number
  advance(ms: number): void
}

export function createTestClock(): TestClock {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    advance: (ms) => void (offset += ms),
  }
}

export interface Harness {
  readonly app: FastifyInstance
  readonly db: Database
  /** The suite's database: `replicated()` waits until every replica has what the primary wrote. */
  readonly testDb: TestDatabase
  /** The app's Redis client (key prefix applied, also to Lua KEYS). */
  readonly redis: Redis
  readonly prefix: string
  readonly clock: TestClock
  readonly metrics: ProcessMetrics
  readonly config: Config
  buyerToken(userId: string): Promise<string>
  adminToken(): Promise<string>
  /** Creates a sale through POST /admin/sales and returns its id. */
  createSale(overrides?: Partial<SaleInput>): Promise<string>
  reserve(userId: string, body: Record<string, unknown>): Promise<LightMyRequestResponse>
  gate(saleId: string): Promise<GateSnapshot>
  ledger(saleId: string): Promise<{ total: number; sold: number }>
  /** Deletes every key of this suite, as FLUSHALL would for this suite's keyspace (other suites share the server). */
  flushSuiteKeys(): Promise<void>
  close(): Promise<void>
}

export interface SaleInput {
  id: string
  sku: string
  title: string
  totalUnits: number
  perUserLimit: number
  startsAt: string
  endsAt: string
  reservationTtlSeconds: number
}

export interface GateSnapshot {
  readonly meta: Record<string, string>
  readonly available: number | null
  readonly users: Record<string, number>
  readonly reservations: Record<string, string>
}

export interface HarnessOptions {
  /** Config variables as they would come from the environment. */
  readonly env?: Record<string, string>
  /** Use this Redis client instead of the suite's (e.g. one through a Toxiproxy proxy); keys must use `prefix`. */
  readonly redis?: (prefix: string, url: string) => Redis
}

const quietLog = () =>
  createLogger({
    service: 'inventory-test',
    level: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  }).logger

let counter = 0
export const uid = (label: string): string => `${label}-${process.pid}-${++counter}`

export async function startHarness(label: string, options: HarnessOptions = {}): Promise<Harness> {
  const testDb: TestDatabase = await createTestDatabase(`inv_${label}`)
  const testRedis: TestRedis = await createTestRedis(`inv_${label}`)
  const keys = await generateSigningKeys()
  const issuer: TokenIssuer = await createTokenIssuer(keys.privateJwk)
  const verifier = await createTokenVerifier(keys.publicJwk)
  const config = readConfig({
    AUTH_JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
    PG_PRIMARY_URL: testDb.primaryUrl,
    PG_REPLICA_URLS: testDb.replicaUrls.join(','),
    REDIS_URL: testRedis.url,
    HOT_SALE_RATE_PER_SECOND: '1000000',
    HOT_SALE_BURST: '1000000',
    RECONCILE_INTERVAL_MS: '0',
    ...options.env,
  })
  const metrics = createProcessMetrics({ service: 'inventory-test' })
  const db = createDatabase({
    primaryUrl: testDb.primaryUrl,
    replicaUrls: testDb.replicaUrls,
    registry: metrics.registry,
    poolOptions: { name: 'inventory-test', max: 10, min: 0 },
  })
  await migrateInventory(db.primary)
  const redis = options.redis ? options.redis(testRedis.prefix, testRedis.url) : testRedis.redis
  const clock = createTestClock()
  const app = await buildApp(config, { logger: quietLog(), metrics, db, redis, verifier, clock })
  await app.ready()

  const tokens = new Map<string, Promise<string>>()
  const token = (userId: string, admin: boolean) => {
    const key = `${admin ? 'admin' : 'buyer'}:${userId}`
    let t = tokens.get(key)
    if (!t) {
      t = issuer.issue({ userId, roles: admin ? ['admin'] : ['buyer'] })
      tokens.set(key, t)
    }
    return t
  }

  const harness: Harness = {
    app,
    db,
    testDb,
    redis,
    prefix: testRedis.prefix,
    clock,
    metrics,
    config,
    buyerToken: (userId) => token(userId, false),
    adminToken: () => token('ops', true),
    async createSale(overrides = {}) {
      const now = clock.now()
      const body: SaleInput = {
        id: uid('sale'),
        sku: 'SKU-1',
        title: 'a test sale',
        totalUnits: 10,
        perUserLimit: 2,
        startsAt: new Date(now - 60_000).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
        reservationTtlSeconds: 600,
        ...overrides,
      }
      const res = await app.inject({ method: 'POST', url: '/admin/sales', headers: { authorization: `Bearer ${await harness.adminToken()}` }, payload: body })
      if (res.statusCode !== 201) throw new Error(`creating a sale answered ${res.statusCode}: ${res.body}`)
      return body.id
    },
    async reserve(userId, body) {
      return app.inject({ method: 'POST', url: '/reservations', headers: { authorization: `Bearer ${await token(userId, false)}` }, payload: body })
    },
    async gate(saleId) {
      const [meta, avail, users, res] = saleKeys(saleId)
      const [m, a, u, r] = await Promise.all([
        redis.hgetall(meta as string),
        redis.get(avail as string),
        redis.hgetall(users as string),
        redis.hgetall(res as string),
      ])
      return {
        meta: m,
        available: a === null ? null : Number(a),
        users: Object.fromEntries(Object.entries(u).map(([k, v]) => [k, Number(v)])),
        reservations: r,
      }
    },
    async ledger(saleId) {
      const { rows } = await db.query<{ total: number; sold: number }>('SELECT total, sold FROM inventory.stock WHERE sale_id = $1', [saleId])
      if (!rows[0]) throw new Error(`no ledger row for ${saleId}`)
      return rows[0]
    },
    async flushSuiteKeys() {
      const plain = new Redis(testRedis.url, { maxRetriesPerRequest: 2 })
      try {
        let cursor = '0'
        do {
          const [next, found] = await plain.scan(cursor, 'MATCH', `${testRedis.prefix}*`, 'COUNT', 1000)
          if (found.length > 0) await plain.del(...found)
          cursor = next
        } while (cursor !== '0')
      } finally {
        plain.disconnect()
      }
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

/** Units in live (not released/expired) reservations, and how many live reservations, from the gate's records. */
export function liveReservations(snapshot: GateSnapshot): { units: number; count: number; unpersisted: number } {
  let units = 0
  let count = 0
  let unpersisted = 0
  for (const value of Object.values(snapshot.reservations)) {
    const [, qty, , state] = value.split('|')
    if (state === 'released' || state === 'expired') continue
    units += Number(qty)
    count += 1
    if (state === 'reserved' || state === 'committing') unpersisted += Number(qty)
  }
  return { units, count, unpersisted }
}
