/**
 * The order worker process (second entry point of the order service): consumes orders.requested in a
 * consumer group and persists each partition's batch in one transaction. Offsets are committed only
 * after a batch is persisted (or dead-lettered), so a crash — even SIGKILL mid-batch — redelivers it, and
 * the idempotent steps make the redelivery harmless. `node services/order/src/worker.ts`
 */
import { createRedis } from '@flashsale/redis'
import { parseList } from '@flashsale/config'
import { createDatabase, isConnectionError, withTransaction } from '@flashsale/db'
import { createKafka } from '@flashsale/kafka'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { isBrokenCircuitError } from '@flashsale/resilience'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import Fastify from 'fastify'
import { GateUnavailableError, createInventoryClient } from './clients/inventory-client.ts'
import { createOrderEventsPublisher } from './clients/order-events.ts'
import { readConfig } from './config.ts'
import { createDeadLetterTooling } from './dead-letter-tooling.ts'
import { createOrderBatchHandler } from './handle-order-batch.ts'
import { createOrderEffects, createSweepDeps, startSweeper } from './sweeper.ts'
import { createWorkerMetrics } from './worker-metrics.ts'
import { persistBatch } from './store/orders-store.ts'
import { createStatusCache } from './store/redis-stores.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'order-worker', level: config.LOG_LEVEL })
if (!config.INVENTORY_SERVICE_TOKEN) {
  logger.fatal('INVENTORY_SERVICE_TOKEN is required by the worker (an admin-role bearer token for the stock gate steps)')
  flush()
  process.exit(1)
}
const metrics = createProcessMetrics({ service: 'order-worker' })

const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: 1 })
const db = createDatabase({ primaryUrl: config.PG_PRIMARY_URL, replicaUrls: [], registry: metrics.registry, poolOptions: { name: 'order-worker' } })
const kafka = createKafka({ brokers: parseList(config.KAFKA_BROKERS), clientId: 'order-worker', logger })
const producer = await kafka.createProducer()
const inventory = createInventoryClient({ urls: parseList(config.INVENTORY_URLS), timeoutMs: Math.max(config.INVENTORY_TIMEOUT_MS, 2_000) })
const shutdown = new AbortController()
const dlq = createDeadLetterTooling({ kafka, producer, db, dlqTopic: config.ORDERS_DLQ_TOPIC, requestedTopic: config.ORDERS_REQUESTED_TOPIC })
const { track, persisted, deadLettered, retries, swept } = createWorkerMetrics({
  registry: metrics.registry,
  kafka,
  groupId: config.WORKER_GROUP_ID,
  topic: config.ORDERS_REQUESTED_TOPIC,
  dlqDepth: () => dlq.depth(),
})
const steps = inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN)
const statusCache = createStatusCache(redis, { ttlSeconds: config.ORDER_STATUS_TTL_SECONDS })
const publish = createOrderEventsPublisher(producer, { topic: config.ORDERS_EVENTS_TOPIC })

const handle = createOrderBatchHandler({
  deps: {
    reservations: steps,
    persist: (orders) => withTransaction(db.primary, (client) => persistBatch(client, orders)),
    statusCache,
    publish,
  },
  producer,
  dlqTopic: config.ORDERS_DLQ_TOPIC,
  maxAttempts: config.WORKER_MAX_ATTEMPTS,
  backoff: { baseMs: 100, capMs: 5_000 },
  isOutage: (err) => isConnectionError(err) || err instanceof GateUnavailableError || isBrokenCircuitError(err),
  signal: shutdown.signal,
  log: logger,
  onPersisted: (summary) => {
    persisted.inc({ status: 'confirmed' }, summary.confirmed)
    persisted.inc({ status: 'rejected' }, summary.rejected)
  },
  onDeadLetter: (errorClass) => deadLettered.inc({ error_class: errorClass }),
  onRetry: (reason) => retries.inc({ reason }),
})

// Health and /metrics for the worker (it serves no other HTTP).
const ops = Fastify(serviceFastifyOptions(logger))
await ops.register(serviceDefaults, { metrics, readiness: { postgres: () => db.query('SELECT 1'), redis: () => redis.ping() } })
await ops.listen({ host: config.HOST, port: config.WORKER_PORT })

const consumer = await kafka.createConsumer({ groupId: config.WORKER_GROUP_ID, topics: [config.ORDERS_REQUESTED_TOPIC], fromBeginning: true })
await consumer.run(track(handle))
logger.info({ topic: config.ORDERS_REQUESTED_TOPIC, group: config.WORKER_GROUP_ID }, 'worker consuming')

// The payment-timeout sweeper runs beside the consumer in every worker instance (SKIP LOCKED: safe).
const sweeper =
  config.SWEEPER_INTERVAL_MS > 0
    ? startSweeper(
        createSweepDeps(db, createOrderEffects(db, { steps, statusCache, publish }), {
          batchSize: config.SWEEPER_BATCH_SIZE,
          followUpAfterMs: config.SWEEPER_FOLLOW_UP_AFTER_MS,
          log: logger,
        }),
        {
          intervalMs: config.SWEEPER_INTERVAL_MS,
          onPass: ({ cancelled, followedUp }) => {
            swept.inc({ outcome: 'cancelled' }, cancelled.length)
            swept.inc({ outcome: 'followed_up' }, followedUp)
          },
          onError: (err) => logger.warn({ err }, 'sweeper pass failed; the next pass retries'),
        },
      )
    : undefined

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'worker stopping: finishing the batch in flight')
    // close() waits for the batch in flight and commits it; abort only stops retry sleeps.
    void Promise.all([consumer.close(), sweeper?.stop()])
      .finally(() => shutdown.abort(new Error('shutting down')))
      .then(() => Promise.allSettled([ops.close(), producer.close(), inventory.close(), db.close()]))
      .finally(() => {
        redis.disconnect()
        metrics.stop()
        flush()
        process.exit(0)
      })
  })
}
