/**
 * The ops page process: reads the environment, exports the data tier's roles, listens, shuts down gracefully.
 *   node --env-file=.local/stack.env tools/ops/src/server.ts     (infra/local/up.sh starts it: make infra-up)
 */
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { startServer } from '@flashsale/service-defaults'
import { buildOpsApp } from './app.ts'
import { readConfig } from './config.ts'
import { exportDataTier } from './datatier.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'ops', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'ops' })
const dataTier = exportDataTier({
  registry: metrics.registry,
  monitorUrl: config.PG_MONITOR_URL || undefined,
  redisUrl: config.REDIS_SENTINEL_URL || undefined,
})
const app = await buildOpsApp(config, { logger, metrics })
app.addHook('onClose', async () => {
  await dataTier.close()
  metrics.stop()
})
await startServer(app, { host: config.HOST, port: config.OPS_PORT, afterClose: flush })
