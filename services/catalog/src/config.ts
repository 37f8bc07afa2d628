/**
 * The catalog service's environment, in one schema with defaults and descriptions. server.ts reads
 * process.env once through readConfig; nothing else looks at the environment.
 */
import { Type, authEnv, loadConfig, port, postgresEnv, processEnv, stackEnv, type Static } from '@flashsale/config'

export const ConfigSchema = Type.Object({
  ...processEnv,
  PORT: port(3001),
  ...authEnv,
  ...postgresEnv,
  REDIS_URL: stackEnv.REDIS_URL,
  INVENTORY_URLS: Type.String({ default: 'http://127.0.0.1:3002', description: 'comma-separated inventory instances, for GET /sales/active' }),
  INVENTORY_TIMEOUT_MS: Type.Integer({ default: 300, minimum: 10, description: 'latency budget of one inventory call' }),
  FEATURED_SKUS: Type.String({
    default: '',
    description: 'comma-separated SKUs whose sales GET /sales/active shows when no ?sku= is given, and whose products are warmed at boot',
  }),
  PRODUCT_CACHE_TTL_MS: Type.Integer({ default: 60_000, minimum: 100, description: 'how long a cached product is fresh (before ±10% jitter)' }),
  PRODUCT_CACHE_SWR_MS: Type.Integer({ default: 30_000, minimum: 0, description: 'stale-while-revalidate window after expiry' }),
  PRODUCT_CACHE_SIE_MS: Type.Integer({ default: 300_000, minimum: 0, description: 'stale-if-error window after expiry' }),
  SALES_CACHE_TTL_MS: Type.Integer({ default: 1_000, minimum: 100, description: 'how long the sales of one SKU (with approximate units left) are reused' }),
  CACHE_REDIS_TIMEOUT_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'per Redis call of a cache read; past it the read fails open to the database',
  }),
  BLOOM_EXPECTED_ITEMS: Type.Integer({ default: 1_000_000, minimum: 1_000, description: 'Bloom filter of product ids: sized for this many ids' }),
  BLOOM_FALSE_POSITIVE_RATE: Type.Number({
    default: 0.001,
    exclusiveMinimum: 0,
    maximum: 0.5,
    description: 'Bloom filter false-positive rate at BLOOM_EXPECTED_ITEMS',
  }),
  CACHE_WARM_TOP_N: Type.Integer({
    default: 1_000,
    minimum: 0,
    description: 'products (newest first) loaded into the cache at boot, besides the featured SKUs',
  }),
  READ_YOUR_WRITES_MS: Type.Integer({ default: 5_000, minimum: 0, description: 'after an admin write, that admin reads lists from the primary for this long' }),
})

export type Config = Static<typeof ConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
