/**
 * The environment of the review service's two processes, one schema each, with defaults and descriptions:
 * the API (ConfigSchema, server.ts) and the verified-buyer projector (ProjectorConfigSchema, projector.ts).
 * Each reads process.env once; nothing else looks at it.
 */
import { Type, authEnv, loadConfig, port, postgresEnv, processEnv, stackEnv, type Static } from '@flashsale/config'

export const ConfigSchema = Type.Object({
  ...processEnv,
  PORT: port(3004, 'port of the API'),
  ...authEnv,
  ...postgresEnv,
  REDIS_URL: stackEnv.REDIS_URL,
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
})

export const ProjectorConfigSchema = Type.Object({
  ...processEnv,
  PROJECTOR_PORT: port(3014, 'port of the projector process (health and /metrics only)'),
  PG_PRIMARY_URL: stackEnv.PG_PRIMARY_URL,
  KAFKA_BROKERS: stackEnv.KAFKA_BROKERS,
  ORDERS_EVENTS_TOPIC: Type.String({ default: 'orders.events', description: 'topic of order status changes the projector consumes' }),
  PROJECTOR_GROUP_ID: Type.String({ default: 'review-verified-purchases', description: 'Kafka consumer group of the projector' }),
})

export type Config = Static<typeof ConfigSchema>
export type ProjectorConfig = Static<typeof ProjectorConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
export const readProjectorConfig = (env: Record<string, string | undefined>): ProjectorConfig => loadConfig(ProjectorConfigSchema, env)
