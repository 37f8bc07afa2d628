/** The gateway process: Redis for rate limits, the route table, the token keys, then it serves (@flashsale/runtime). */
import { runHttpService } from '@flashsale/runtime'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { loadRouteTableFromConfig } from './route-table.ts'
import { demoTokenIssuer } from './routes/demo-token.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'gateway',
  config,
  port: config.PORT,
  async start({ logger, metrics, ...make }) {
    // Fail fast: no offline queue and a short command timeout, so a Redis outage sends rate limits to the local
    // limiter at once (ADR 0013). Auto-pipelining: the rate-limit scripts of one event-loop turn go to Redis in
    // one write; safe because the one script (GCRA) is defined before any request can call it (ioredis#1931).
    const failFast = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1_000 }
    const redis = await make.redis({ ...failFast, enableAutoPipelining: true, commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS })
    const verifier = await make.verifier({ cached: false })
    const issuer = await demoTokenIssuer(config, logger)
    return buildApp(config, { logger, metrics, redis, verifier, issuer, routeTable: loadRouteTableFromConfig(config) })
  },
})
