/**
 * buildApp(config, deps) → the inventory service as a Fastify instance. It never listens (server.ts
 * does) and makes no clients (they come in `deps`), so tests build it on real servers and use inject().
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { TokenVerifier } from '@flashsale/auth'
import type { Database } from '@flashsale/db'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { createServiceApp } from '@flashsale/runtime'
import type { Config } from './config.ts'
import { OPENAPI_INFO } from './contract.ts'
import { createHotSaleLimiter } from './domain/hot-sale-limiter.ts'
import { systemClock, type Clock, type InventoryContext } from './domain/ports.ts'
import { createReconciler, type Reconciler } from './domain/reconcile-stock.ts'
import { createSoldOutCache } from './domain/sold-out-cache.ts'
import { createInventoryMetrics } from './metrics.ts'
import { adminReservationRoutes } from './routes/admin-reservations.ts'
import { adminSaleRoutes } from './routes/admin-sales.ts'
import { reservationRoutes } from './routes/reservations.ts'
import { saleRoutes } from './routes/sales.ts'
import { createGateStore } from './store/gate-store.ts'
import { createSaleStore } from './store/sale-store.ts'
import { watchRedisMaster } from './store/master-watch.ts'

export interface Deps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  readonly db: Database
  /** The stock gate's Redis. In production: no offline queue and a command timeout (fail fast → 503). */
  readonly redis: Redis
  readonly verifier: TokenVerifier
  /** Tests move time; everything that reads the clock (gate window, TTLs, limiter) reads this one. */
  readonly clock?: Clock
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The reconciler of this app; server.ts runs it on an interval, /admin/reconcile once. */
    reconciler: Reconciler
  }
}

export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock
  const now = () => clock.now()
  const app = await createServiceApp({
    service: 'inventory',
    logger: deps.logger,
    metrics: deps.metrics,
    verifier: deps.verifier,
    redis: deps.redis,
    openapi: OPENAPI_INFO,
    // Shared datastores are dependencies, not readiness (ADR 0028): with Redis down the gate answers 503
    // fail-closed with its own reason on every instance alike; ejecting them all would only hide it.
    dependencies: {
      postgres: () => deps.db.primary.query('SELECT 1'),
      redis: () => deps.redis.ping(),
    },
  })

  // A different Redis server (failover, restart) may lack the last writes: the gate refuses until every open
  // sale is rebuilt from Postgres (store/master-watch.ts, ADR 0029). The rebuild is only ever called after an
  // INFO round trip, by which time the reconciler below exists.
  const masterWatch = watchRedisMaster(deps.redis, { onServerChange: () => reconciler.rebuildOpen(), log: app.log })
  app.addHook('onClose', async () => masterWatch.stop())
  const ctx: InventoryContext = {
    sales: createSaleStore(deps.db, { now }),
    gate: createGateStore(deps.redis, {
      indexTtlMs: config.RESERVATION_INDEX_TTL_SECONDS * 1000,
      suspect: () => masterWatch.suspect,
      replicaAckTimeoutMs: config.GATE_REPLICA_ACK_TIMEOUT_MS,
    }),
    limiter: createHotSaleLimiter({ ratePerSecond: config.HOT_SALE_RATE_PER_SECOND, burst: config.HOT_SALE_BURST, now }),
    soldOut: createSoldOutCache({ ttlMs: config.SOLD_OUT_CACHE_MS, now }),
    metrics: createInventoryMetrics(deps.metrics.registry),
    clock,
    settings: { quietMs: config.RECONCILE_QUIET_MS, rebuildStaleMs: config.REBUILD_STALE_MS, expireBatch: 1_000 },
    log: app.log,
  }
  const reconciler = createReconciler(ctx)
  app.decorate('reconciler', reconciler)

  await app.register(reservationRoutes, { ctx })
  await app.register(adminReservationRoutes, { ctx })
  await app.register(saleRoutes, { ctx })
  await app.register(adminSaleRoutes, { ctx, reconciler })
  return app
}
