/** The catalog process: its clients and migrations, a warm cache, then it serves (@flashsale/runtime). */
import { runHttpService } from '@flashsale/runtime'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { migrateCatalog } from './store/migrations.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'catalog',
  config,
  port: config.PORT,
  async start({ logger, metrics, ...make }) {
    // One reconnect attempt per command: cache reads fail open to the database (@flashsale/cache). No
    // auto-pipelining: a script defined while an auto-pipeline is pending crashes ioredis (ioredis#1931).
    const redis = await make.redis({ maxRetriesPerRequest: 1 })
    const subscriber = await make.redis({ maxRetriesPerRequest: 1, connectionName: 'catalog-invalidations' })
    const db = await make.database({ recentWrites: { redis, windowMs: config.READ_YOUR_WRITES_MS }, migrate: migrateCatalog })
    const app = await buildApp(config, { logger, metrics, db, redis, subscriber, verifier: await make.verifier() })
    // Warm before taking traffic: readiness turns green once the first buyers would hit Redis, not the primary.
    const warmed = await app.warmCache().catch((err: unknown) => (logger.warn({ err }, 'cache warming failed; serving cold'), 0))
    logger.info({ warmed }, 'product cache warmed')
    return app
  },
})
