/**
 * The order worker process (second entry point of the order service): consumes orders.requested in a
 * consumer group and persists each partition's batch in one transaction. Offsets are committed only
 * after a batch is persisted (or dead-lettered), so a crash — even SIGKILL mid-batch — redelivers it, and
 * the idempotent steps make the redelivery harmless. `node services/order/src/worker.ts`
 */
import { Redis } from 'ioredis'
import { parseList } from '@flashsale/config'
import { createDatabase, isConnectionError, withTransaction } from '@flashsale/db'
import { createKafka } from '@flashsale/kafka'
import { createLogger } from '@flashsale/logging'
import { Counter, Histogram, createProcessMetrics } from '@flashsale/metrics'
import { isBrokenCircuitError } from '@flashsale/resilience'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import Fastify from 'fastify'
import { GateUnavailableError, createInventoryClient } from './clients/inventory-client.ts'
import { createOrderEventsPublisher } from './clients/order-events.ts'
import { readConfig } from './config.ts'
import { createOrderBatchHandler } from './handle-order-batch.ts'
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
const batchSize = new Histogram({ name: 'order_worker_batch_size', help: 'Orders per persisted batch', buckets: [1, 5, 10, 50, 100, 250, 500, 1000], registers: [metrics.registry] })
const persisted = new Counter({ name: 'order_worker_orders_total', help: 'Orders persisted by outcome', labelNames: ['status'] as const, registers: [metrics.registry] })
const deadLettered = new Counter({ name: 'order_worker_dead_lettered_total', help: 'Messages sent to the DLQ, by error class', labelNames: ['error_class'] as const, registers: [metrics.registry] })
const retries = new Counter({ name: 'order_worker_batch_retries_total', help: 'Batch retries, by reason', labelNames: ['reason'] as const, registers: [metrics.registry] })

const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 })
const db = createDatabase({ primaryUrl: config.PG_PRIMARY_URL, replicaUrls: [], registry: metrics.registry, poolOptions: { name: 'order-worker' } })
const kafka = createKafka({ brokers: parseList(config.KAFKA_BROKERS), clientId: 'order-worker', logger })
const producer = await kafka.createProducer()
const inventory = createInventoryClient({ urls: parseList(config.INVENTORY_URLS), timeoutMs: Math.max(config.INVENTORY_TIMEOUT_MS, 2_000) })
const shutdown = new AbortController()

const handle = createOrderBatchHandler({
  deps: {
    reservations: inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN),
    persist: (orders) => withTransaction(db.primary, (client) => persistBatch(client, orders)),
    statusCache: createStatusCache(redis, { ttlSeconds: config.ORDER_STATUS_TTL_SECONDS }),
    publish: createOrderEventsPublisher(producer, { topic: config.ORDERS_EVENTS_TOPIC }),
  },
  producer,
  dlqTopic: config.ORDERS_DLQ_TOPIC,
  maxAttempts: config.WORKER_MAX_ATTEMPTS,
  backoff: { baseMs: 100, capMs: 5_000 },
  isOutage: (err) => isConnectionError(err) || err instanceof GateUnavailableError || isBrokenCircuitError(err),
  signal: shutdown.signal,
  log: logger,
  onPersisted: (summary, size) => {
    batchSize.observe(size)
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
await consumer.run(handle)
logger.info({ topic: config.ORDERS_REQUESTED_TOPIC, group: config.WORKER_GROUP_ID }, 'worker consuming')

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'worker stopping: finishing the batch in flight')
    // close() waits for the batch in flight and commits it; abort only stops retry sleeps.
    void consumer
      .close()
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
