/** The review API process: its clients and migrations, then it serves (@flashsale/runtime). The projector is src/projector.ts. */
import { runHttpService } from '@flashsale/runtime'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { migrateReview } from './store/migrations.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'review',
  config,
  port: config.PORT,
  async start({ logger, metrics, ...make }) {
    // No auto-pipelining: a script defined while an auto-pipeline is pending crashes ioredis (ioredis#1931).
    const redis = await make.redis({ maxRetriesPerRequest: 1 })
    const subscriber = await make.redis({ maxRetriesPerRequest: 1, connectionName: 'review-invalidations' })
    const db = await make.database({ recentWrites: { redis, windowMs: config.READ_YOUR_WRITES_MS }, migrate: migrateReview })
    return buildApp(config, { logger, metrics, db, redis, subscriber, verifier: await make.verifier() })
  },
})
