/**
 * The inventory process: the only place that reads the environment, makes clients, migrates, listens,
 * runs the reconciler loop and shuts down gracefully.
 */
import { createRedis } from '@flashsale/redis'
import { TOKEN_CACHE_DEFAULTS, createCachingVerifier, createTokenVerifier } from '@flashsale/auth'
import { parseList } from '@flashsale/config'
import { createDatabase, requestBudget } from '@flashsale/db'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { startServer } from '@flashsale/service-defaults'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { startReconcilerLoop } from './domain/reconcile-stock.ts'
import { migrateInventory } from './store/migrations.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'inventory', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'inventory' })

// Fail fast, fail closed: no offline queue (a command while disconnected fails at once instead of
// waiting for a reconnect) and a command timeout, so a Redis outage is a quick 503, never a hang.
const redis = createRedis(config.REDIS_URL, {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
  connectionName: 'inventory',
})
redis.on('error', (err) => logger.warn({ err }, 'redis connection error'))
await redis.connect().catch((err: unknown) => logger.error({ err }, 'redis unreachable at boot; the gate refuses until it is back'))

const db = createDatabase({
  primaryUrl: config.PG_PRIMARY_URL,
  replicaUrls: parseList(config.PG_REPLICA_URLS),
  registry: metrics.registry,
  poolOptions: { name: 'inventory', ...requestBudget(config) },
})
for (const m of await migrateInventory(db.primary)) logger.info({ migration: m.file }, 'migration applied')

// A buyer's token is verified once, then reused until its exp (packages/auth/src/token-cache.ts).
const verifier = createCachingVerifier(await createTokenVerifier(JSON.parse(config.AUTH_JWT_PUBLIC_JWK)), TOKEN_CACHE_DEFAULTS)
const app = await buildApp(config, { logger, metrics, db, redis, verifier })

const loop =
  config.RECONCILE_INTERVAL_MS > 0
    ? startReconcilerLoop(app.reconciler, { intervalMs: config.RECONCILE_INTERVAL_MS, onError: (err) => logger.error({ err }, 'reconciler pass failed') })
    : undefined

app.addHook('onClose', async () => {
  await loop?.stop()
  redis.disconnect()
  await db.close()
  metrics.stop()
})

await startServer(app, { host: config.HOST, port: config.PORT, drainDelayMs: config.SHUTDOWN_DRAIN_MS, afterClose: flush })
