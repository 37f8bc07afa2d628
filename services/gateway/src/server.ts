/**
 * The gateway process: the only place that reads the environment, makes clients, listens and shuts
 * down gracefully (readiness 503 → drain → close; startServer of @flashsale/service-defaults).
 */
import { createRedis } from '@flashsale/redis'
import { createTokenIssuer, createTokenVerifier } from '@flashsale/auth'
import { parseList } from '@flashsale/config'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { startServer } from '@flashsale/service-defaults'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { BUNDLED_ROUTE_TABLE, loadRouteTable } from './route-table.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'gateway', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'gateway' })

// Fail fast: no offline queue and a short command timeout, so a Redis outage sends rate limits to the
// local limiter at once (ADR 0013) instead of queueing requests behind a reconnect. Auto-pipelining: the
// rate-limit scripts of all requests handled in one event-loop turn go to Redis in one write and come back
// in one read (each is still its own atomic script), instead of one write and one read per request. Safe
// here because the one script (GCRA) is defined when the app is built, before any request can call it; a
// script defined while an auto-pipeline is pending crashes ioredis (ioredis#1931, see catalog's server.ts).
const redis = createRedis(config.REDIS_URL, {
  enableAutoPipelining: true,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
  connectionName: 'gateway',
})
redis.on('error', (err) => logger.warn({ err }, 'redis connection error'))
await redis.connect().catch((err: unknown) => logger.error({ err }, 'redis unreachable at boot; rate limits use the local limiter until it is back'))

const routeTable = loadRouteTable(config.ROUTE_TABLE_FILE || BUNDLED_ROUTE_TABLE, {
  order: parseList(config.ORDER_URLS),
  catalog: parseList(config.CATALOG_URLS),
  inventory: parseList(config.INVENTORY_URLS),
  review: parseList(config.REVIEW_URLS),
})
const verifier = await createTokenVerifier(JSON.parse(config.AUTH_JWT_PUBLIC_JWK))
let issuer
if (config.DEMO_TOKENS_ENABLED) {
  if (!config.AUTH_JWT_PRIVATE_JWK) throw new Error('DEMO_TOKENS_ENABLED=true needs AUTH_JWT_PRIVATE_JWK')
  issuer = await createTokenIssuer(JSON.parse(config.AUTH_JWT_PRIVATE_JWK))
  logger.warn('demo token endpoint POST /auth/demo-token is ON: for demos and load tests only')
}

const app = await buildApp(config, { logger, metrics, redis, verifier, issuer, routeTable })
app.addHook('onClose', async () => {
  redis.disconnect()
  metrics.stop()
})

await startServer(app, { host: config.HOST, port: config.PORT, drainDelayMs: config.SHUTDOWN_DRAIN_MS, afterClose: flush })
