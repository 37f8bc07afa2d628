/**
 * The order API process: the only place that reads the environment, creates clients, listens, and shuts
 * down (drain, then close the HTTP server, then the clients). `node services/order/src/server.ts`
 */
import { createRedis } from '@flashsale/redis'
import { TOKEN_CACHE_DEFAULTS, createCachingVerifier, createTokenVerifier } from '@flashsale/auth'
import { parseList } from '@flashsale/config'
import { createDatabase, createRedisRecentWrites, requestBudget } from '@flashsale/db'
import { createKafka } from '@flashsale/kafka'
import { createLogger } from '@flashsale/logging'
import { Gauge, createProcessMetrics } from '@flashsale/metrics'
import { BREAKER_STATE_VALUE } from '@flashsale/resilience'
import { startServer } from '@flashsale/service-defaults'
import { buildApp } from './app.ts'
import { createInventoryClient } from './clients/inventory-client.ts'
import { readConfig } from './config.ts'
import { createDeadLetterTooling } from './dead-letter-tooling.ts'
import { migrateOrders } from './store/migrations.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'order', level: config.LOG_LEVEL })
const metrics = createProcessMetrics({ service: 'order' })
const breakerGauge = new Gauge({
  name: 'order_inventory_breaker_state',
  help: 'Circuit to inventory: 0 closed, 1 open, 2 half-open, 3 isolated',
  registers: [metrics.registry],
})

const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
const db = createDatabase({
  primaryUrl: config.PG_PRIMARY_URL,
  replicaUrls: parseList(config.PG_REPLICA_URLS),
  recentWrites: createRedisRecentWrites(redis, { windowMs: config.READ_YOUR_WRITES_MS }),
  registry: metrics.registry,
  poolOptions: { name: 'order', ...requestBudget(config) },
})
for (const m of await migrateOrders(db.primary)) logger.info({ migration: m.file }, 'migration applied')
const kafka = createKafka({ brokers: parseList(config.KAFKA_BROKERS), clientId: 'order-api', logger })
const producer = await kafka.createProducer()
const inventory = createInventoryClient({
  urls: parseList(config.INVENTORY_URLS),
  timeoutMs: config.INVENTORY_TIMEOUT_MS,
  breaker: {
    failureRateThreshold: config.INVENTORY_BREAKER_FAILURE_RATE,
    slowCallMs: config.INVENTORY_BREAKER_SLOW_CALL_MS,
    minimumCalls: config.INVENTORY_BREAKER_MIN_CALLS,
  },
  onBreakerState: (state) => {
    breakerGauge.set(BREAKER_STATE_VALUE[state])
    logger.warn({ state }, 'circuit to inventory changed')
  },
})
// A buyer's token is verified once, then reused until its exp (packages/auth/src/token-cache.ts).
const verifier = createCachingVerifier(await createTokenVerifier(JSON.parse(config.AUTH_JWT_PUBLIC_JWK)), TOKEN_CACHE_DEFAULTS)

const dlq = createDeadLetterTooling({
  kafka,
  producer,
  db,
  dlqTopic: config.ORDERS_DLQ_TOPIC,
  requestedTopic: config.ORDERS_REQUESTED_TOPIC,
  ...(config.INVENTORY_SERVICE_TOKEN ? { gate: inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN) } : {}),
})
const app = await buildApp(config, { logger, metrics, verifier, redis, db, producer, inventory, ordersRequestedTopic: config.ORDERS_REQUESTED_TOPIC, dlq })
app.addHook('onClose', async () => {
  await Promise.allSettled([producer.close(), inventory.close(), db.close()])
  redis.disconnect()
  metrics.stop()
})
await startServer(app, { host: config.HOST, port: config.PORT, drainDelayMs: config.DRAIN_DELAY_MS, afterClose: flush })
