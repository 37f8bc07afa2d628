/**
 * buildApp(config, deps) → the catalog service as a Fastify instance. It never listens (server.ts does)
 * and makes no connections (they come in `deps`), so tests build it on real servers and use inject().
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { TokenVerifier } from '@flashsale/auth'
import { createCache, createRedisBloomFilter, type BloomFilter } from '@flashsale/cache'
import { parseList } from '@flashsale/config'
import type { Database } from '@flashsale/db'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { createServiceApp } from '@flashsale/runtime'
import { createInventoryClient } from './clients/inventory-client.ts'
import type { Config } from './config.ts'
import { OPENAPI_INFO } from './contract.ts'
import type { CatalogContext, SaleDirectory, SaleSummary } from './domain/ports.ts'
import type { Product } from './domain/product.ts'
import { warmProducts } from './domain/warm-cache.ts'
import { adminProductRoutes } from './routes/admin-products.ts'
import { productRoutes } from './routes/products.ts'
import { saleRoutes } from './routes/sales.ts'
import { PRODUCT_BLOOM_NAME, PRODUCT_CACHE, SALES_CACHE } from './store/cache-names.ts'
import { createProductStore } from './store/product-store.ts'

export interface Deps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  /** Made with `recentWrites` (createRedisRecentWrites) so admins read their own writes. */
  readonly db: Database
  /** Cache L2, the Bloom filter (recommended: maxRetriesPerRequest 1; not enableAutoPipelining, see server.ts). */
  readonly redis: Redis
  /** A connection of its own for the cache's invalidation subscription (other instances' writes). */
  readonly subscriber?: Redis
  readonly verifier: TokenVerifier
  /** Default: the inventory service over HTTP at INVENTORY_URLS. */
  readonly sales?: SaleDirectory
  readonly now?: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Loads the featured SKUs' products and the newest CACHE_WARM_TOP_N into the cache (server.ts, at boot). */
    warmCache(): Promise<number>
  }
}

export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const app = await createServiceApp({
    service: 'catalog',
    logger: deps.logger,
    metrics: deps.metrics,
    verifier: deps.verifier,
    redis: deps.redis,
    openapi: OPENAPI_INFO,
    // Shared datastores are dependencies, not readiness (ADR 0028): with the primary down, product pages
    // come from the cache and the replicas; every instance would be ejected alike for nothing.
    dependencies: {
      'postgres-primary': () => deps.db.primary.query('SELECT 1'),
      'postgres-replicas': () => deps.db.read('SELECT 1'),
      redis: () => deps.redis.ping(),
    },
  })

  const registry = deps.metrics.registry
  const products = createProductStore(deps.db)
  const bloom: BloomFilter = createRedisBloomFilter({
    redis: deps.redis,
    name: PRODUCT_BLOOM_NAME,
    expectedItems: config.BLOOM_EXPECTED_ITEMS,
    falsePositiveRate: config.BLOOM_FALSE_POSITIVE_RATE,
  })
  const productCache = createCache<Product>({
    ...PRODUCT_CACHE,
    redis: deps.redis,
    ...(deps.subscriber ? { subscriber: deps.subscriber } : {}),
    registry,
    ttlMs: config.PRODUCT_CACHE_TTL_MS,
    staleWhileRevalidateMs: config.PRODUCT_CACHE_SWR_MS,
    staleIfErrorMs: config.PRODUCT_CACHE_SIE_MS,
    bloom,
    redisTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS,
  })
  const salesCache = createCache<SaleSummary[]>({
    ...SALES_CACHE,
    redis: deps.redis,
    registry,
    ttlMs: config.SALES_CACHE_TTL_MS,
    // The inventory down: show the last known sales (marked approximate anyway) for up to 30 s.
    staleIfErrorMs: 30_000,
    redisTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS,
  })

  const ownInventory = deps.sales ? undefined : createInventoryClient({ urls: parseList(config.INVENTORY_URLS), timeoutMs: config.INVENTORY_TIMEOUT_MS })
  const ctx: CatalogContext = {
    products,
    productCache: {
      get: (id, load) => productCache.get(id, load),
      invalidate: (id) => productCache.invalidate(id),
      remember: (id) => bloom.add(id),
    },
    sales: deps.sales ?? ownInventory!,
    salesCache: { get: (sku, load) => salesCache.get(sku, load) },
    featuredSkus: parseList(config.FEATURED_SKUS),
    now: deps.now ?? Date.now,
    log: app.log,
  }

  // The existence filter, built once per (size) from the database; until then it answers "maybe". Redis
  // down at boot costs protection against penetration, not availability.
  try {
    if (!(await bloom.isReady())) await bloom.rebuild(products.allIds())
  } catch (err) {
    app.log.warn({ err }, 'Bloom filter not built; reads are unprotected against penetration until a restart')
  }

  app.decorate('warmCache', () => warmProducts(ctx, { skus: ctx.featuredSkus, topN: config.CACHE_WARM_TOP_N }))
  app.addHook('onClose', async () => {
    await productCache.close()
    await salesCache.close()
    await ownInventory?.close()
  })

  await app.register(productRoutes, { ctx })
  await app.register(adminProductRoutes, { ctx })
  await app.register(saleRoutes, { ctx })
  return app
}
