/**
 * The catalog process: the only place that reads the environment, makes clients, migrates, warms the
 * cache, listens and shuts down gracefully.
 */
import { createRedis } from '@flashsale/redis'
import { TOKEN_CACHE_DEFAULTS, createCachingVerifier, createTokenVerifier } from '@flashsale/auth'
import { parseList } from '@flashsale/config'
import { createDatabase, createRedisRecentWrites, requestBudget } from '@flashsale/db'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { startServer } from '@flashsale/service-defaults'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { migrateCatalog } from './store/migrations.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'catalog', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'catalog' })

// Cache reads fail open to the database when Redis is down (@flashsale/cache): one reconnect attempt per
// command, no long offline queue.
// No auto-pipelining: the cache scripts are defined (defineCommand) while other commands may sit in a pending
// auto-pipeline, which then lacks the new command and crashes the process when it executes (ioredis#1931,
// seen here at boot during cache warming). The L1 cache in front keeps Redis traffic small anyway.
const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectionName: 'catalog' })
const subscriber = redis.duplicate({ connectionName: 'catalog-invalidations' })
for (const r of [redis, subscriber]) r.on('error', (err) => logger.warn({ err }, 'redis connection error'))

const db = createDatabase({
  primaryUrl: config.PG_PRIMARY_URL,
  replicaUrls: parseList(config.PG_REPLICA_URLS),
  recentWrites: createRedisRecentWrites(redis, { windowMs: config.READ_YOUR_WRITES_MS }),
  registry: metrics.registry,
  poolOptions: { name: 'catalog', ...requestBudget(config) },
})
for (const m of await migrateCatalog(db.primary)) logger.info({ migration: m.file }, 'migration applied')

// A buyer's token is verified once, then reused until its exp (packages/auth/src/token-cache.ts).
const verifier = createCachingVerifier(await createTokenVerifier(JSON.parse(config.AUTH_JWT_PUBLIC_JWK)), TOKEN_CACHE_DEFAULTS)
const app = await buildApp(config, { logger, metrics, db, redis, subscriber, verifier })

app.addHook('onClose', async () => {
  subscriber.disconnect()
  redis.disconnect()
  await db.close()
  metrics.stop()
})

// Warm before taking traffic: readiness turns green once the first buyers would hit Redis, not the primary.
const warmed = await app.warmCache().catch((err: unknown) => {
  logger.warn({ err }, 'cache warming failed; serving cold')
  return 0
})
logger.info({ warmed }, 'product cache warmed')

await startServer(app, { host: config.HOST, port: config.PORT, drainDelayMs: config.SHUTDOWN_DRAIN_MS, afterClose: flush })
