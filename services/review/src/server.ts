/**
 * The review API process: the only place that reads the environment, makes clients, migrates, listens
 * and shuts down gracefully. The projector runs as its own process (src/projector.ts).
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
import { migrateReview } from './store/migrations.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'review', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'review' })

// No auto-pipelining: the cache scripts are defined (defineCommand) while other commands may sit in a pending
// auto-pipeline, which then lacks the new command and crashes the process when it executes (ioredis#1931,
// seen here at boot during cache warming). The L1 cache in front keeps Redis traffic small anyway.
const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectionName: 'review' })
const subscriber = redis.duplicate({ connectionName: 'review-invalidations' })
for (const r of [redis, subscriber]) r.on('error', (err) => logger.warn({ err }, 'redis connection error'))

const db = createDatabase({
  primaryUrl: config.PG_PRIMARY_URL,
  replicaUrls: parseList(config.PG_REPLICA_URLS),
  recentWrites: createRedisRecentWrites(redis, { windowMs: config.READ_YOUR_WRITES_MS }),
  registry: metrics.registry,
  poolOptions: { name: 'review', ...requestBudget(config) },
})
for (const m of await migrateReview(db.primary)) logger.info({ migration: m.file }, 'migration applied')

// A buyer's token is verified once, then reused until its exp (packages/auth/src/token-cache.ts).
const verifier = createCachingVerifier(await createTokenVerifier(JSON.parse(config.AUTH_JWT_PUBLIC_JWK)), TOKEN_CACHE_DEFAULTS)
const app = await buildApp(config, { logger, metrics, db, redis, subscriber, verifier })
app.addHook('onClose', async () => {
  subscriber.disconnect()
  redis.disconnect()
  await db.close()
  metrics.stop()
})

await startServer(app, { host: config.HOST, port: config.PORT, drainDelayMs: config.SHUTDOWN_DRAIN_MS, afterClose: flush })
