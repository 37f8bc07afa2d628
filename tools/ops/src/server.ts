/**
 * The ops page process: the data tier's roles exported, then the page served (@flashsale/runtime).
 *   node --env-file=.local/stack.env tools/ops/src/server.ts     (infra/local/up.sh starts it: make infra-up)
 */
import { runHttpService } from '@flashsale/runtime'
import { buildOpsApp } from './app.ts'
import { readConfig } from './config.ts'
import { exportDataTier } from './datatier.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'ops',
  config,
  port: config.OPS_PORT,
  async start({ logger, metrics, onClose }) {
    const dataTier = exportDataTier({
      registry: metrics.registry,
      monitorUrl: config.PG_MONITOR_URL || undefined,
      redisUrl: config.REDIS_SENTINEL_URL || undefined,
    })
    onClose(() => dataTier.close())
    return buildOpsApp(config, { logger, metrics })
  },
})
