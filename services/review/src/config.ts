/**
 * The review service's environment (API and projector), in one schema with defaults and descriptions.
 * server.ts and projector.ts read process.env once through readConfig; nothing else looks at it.
 */
import { Type, loadConfig, logLevel, stackEnv, type Static } from '@flashsale/config'

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'address to listen on' }),
  PORT: Type.Integer({ default: 3004, minimum: 0, maximum: 65535, description: 'port of the API' }),
  PROJECTOR_PORT: Type.Integer({ default: 3014, minimum: 0, maximum: 65535, description: 'port of the projector process (health and /metrics only)' }),
  LOG_LEVEL: logLevel,
  AUTH_JWT_PUBLIC_JWK: Type.String({ minLength: 2, description: 'ES256 public key (JWK JSON) that verifies bearer tokens' }),
  PG_PRIMARY_URL: stackEnv.PG_PRIMARY_URL,
  PG_REPLICA_URLS: stackEnv.PG_REPLICA_URLS,
  PG_ACQUIRE_TIMEOUT_MS: stackEnv.PG_ACQUIRE_TIMEOUT_MS,
  PG_QUERY_TIMEOUT_MS: stackEnv.PG_QUERY_TIMEOUT_MS,
  REDIS_URL: stackEnv.REDIS_URL,
  KAFKA_BROKERS: Type.String({ default: '', description: 'comma-separated Kafka bootstrap brokers; required by the projector, unused by the API' }),
  ORDERS_EVENTS_TOPIC: Type.String({ default: 'orders.events', description: 'topic of order status changes the projector consumes' }),
  PROJECTOR_GROUP_ID: Type.String({ default: 'review-verified-purchases', description: 'Kafka consumer group of the projector' }),
  CATALOG_URLS: Type.String({ default: 'http://127.0.0.1:3001', description: 'comma-separated catalog instances: product id → SKU' }),
  CATALOG_TIMEOUT_MS: Type.Integer({ default: 500, minimum: 10, description: 'latency budget of one catalog call' }),
  REVIEW_CACHE_TTL_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    description: 'how long a cached rating or first page of reviews is fresh (before jitter)',
  }),
  REVIEW_CACHE_SWR_MS: Type.Integer({ default: 60_000, minimum: 0, description: 'stale-while-revalidate window of the review caches' }),
  CACHE_REDIS_TIMEOUT_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'per Redis call of a cache read; past it the read fails open to the database',
  }),
  READ_YOUR_WRITES_MS: Type.Integer({ default: 5_000, minimum: 1, description: 'after posting a review, the author reads from the primary for this long' }),
  SHUTDOWN_DRAIN_MS: Type.Integer({ default: 5_000, minimum: 0, description: 'readiness is 503 this long before the server stops accepting' }),
})

export type Config = Static<typeof ConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
