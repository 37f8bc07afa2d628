/** The inventory process: its clients and migrations, the reconciler loop, then it serves (@flashsale/runtime). */
import { runHttpService } from '@flashsale/runtime'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { startReconcilerLoop } from './domain/reconcile-stock.ts'
import { migrateInventory } from './store/migrations.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'inventory',
  config,
  port: config.PORT,
  async start({ logger, metrics, onClose, ...make }) {
    // Fail fast, fail closed: no offline queue and a command timeout, so a Redis outage is a quick 503, never a hang.
    const redis = await make.redis({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS })
    const db = await make.database({ migrate: migrateInventory })
    const app = await buildApp(config, { logger, metrics, db, redis, verifier: await make.verifier() })
    const onError = (err: unknown) => logger.error({ err }, 'reconciler pass failed')
    const loop = config.RECONCILE_INTERVAL_MS > 0 ? startReconcilerLoop(app.reconciler, { intervalMs: config.RECONCILE_INTERVAL_MS, onError }) : undefined
    onClose(() => loop?.stop())
    return app
  },
})
