/**
 * buildApp(config, deps) → the review API as a Fastify instance. It never listens (server.ts does) and
 * makes no connections (they come in `deps`), so tests build it on real servers and use inject().
 * The verified-buyer projector is a separate entry point (src/projector.ts).
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { TokenVerifier } from '@flashsale/auth'
import { createCache } from '@flashsale/cache'
import { parseList } from '@flashsale/config'
import type { Database } from '@flashsale/db'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { createServiceApp } from '@flashsale/runtime'
import { createCatalogClient } from './clients/catalog-client.ts'
import type { Config } from './config.ts'
import { DEFAULT_PAGE_SIZE, OPENAPI_INFO } from './contract.ts'
import type { ProductDirectory, ReviewContext } from './domain/ports.ts'
import type { Rating, ReviewPage } from './domain/review.ts'
import { reviewRoutes } from './routes/reviews.ts'
import { createPurchaseStore } from './store/purchase-store.ts'
import { createReviewStore } from './store/review-store.ts'

export interface Deps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  /** Made with `recentWrites` (createRedisRecentWrites): an author reads their own review. */
  readonly db: Database
  readonly redis: Redis
  /** A connection of its own for the caches' invalidation subscription. */
  readonly subscriber?: Redis
  readonly verifier: TokenVerifier
  /** Default: the catalog over HTTP at CATALOG_URLS. */
  readonly products?: ProductDirectory
}

export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const app = await createServiceApp({
    service: 'review',
    logger: deps.logger,
    metrics: deps.metrics,
    verifier: deps.verifier,
    redis: deps.redis,
    openapi: OPENAPI_INFO,
    // Shared datastores are dependencies, not readiness (ADR 0028).
    dependencies: {
      postgres: () => deps.db.primary.query('SELECT 1'),
      redis: () => deps.redis.ping(),
    },
  })

  const registry = deps.metrics.registry
  const common = {
    redis: deps.redis,
    ...(deps.subscriber ? { subscriber: deps.subscriber } : {}),
    registry,
    ttlMs: config.REVIEW_CACHE_TTL_MS,
    staleWhileRevalidateMs: config.REVIEW_CACHE_SWR_MS,
    redisTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS,
  }
  const ratings = createCache<Rating>({ name: 'ratings', prefix: 'review:rating:', ...common })
  const firstPages = createCache<ReviewPage>({ name: 'review-pages', prefix: 'review:page:', ...common })
  // product id → SKU: a SKU never changes, so a long TTL; "no such product" is remembered for 5 s.
  const skus = createCache<string>({
    name: 'product-skus',
    prefix: 'review:sku:',
    redis: deps.redis,
    registry,
    ttlMs: 3_600_000,
    negativeTtlMs: 5_000,
    redisTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS,
  })
  const ownCatalog = deps.products ? undefined : createCatalogClient({ urls: parseList(config.CATALOG_URLS), timeoutMs: config.CATALOG_TIMEOUT_MS })
  const catalog = deps.products ?? ownCatalog!

  const ctx: ReviewContext = {
    reviews: createReviewStore(deps.db),
    purchases: createPurchaseStore(deps.db),
    products: { skuOf: (id) => skus.get(id, (key) => catalog.skuOf(key)) },
    ratingCache: { get: (k, load) => ratings.get(k, load), invalidate: (k) => ratings.invalidate(k) },
    firstPageCache: { get: (k, load) => firstPages.get(k, load), invalidate: (k) => firstPages.invalidate(k) },
    defaultPageSize: DEFAULT_PAGE_SIZE,
    log: app.log,
  }
  app.addHook('onClose', async () => {
    await Promise.all([ratings.close(), firstPages.close(), skus.close(), ownCatalog?.close()])
  })

  await app.register(reviewRoutes, { ctx })
  return app
}
