/**
 * The order worker's parts, wired: the batch consumer of orders.requested (each partition's batch persisted in
 * one transaction, offsets committed only after it is persisted or dead-lettered, so a crash redelivers it and
 * the idempotent steps make the redelivery harmless) and the payment-timeout sweeper beside it. src/worker.ts
 * runs it with runConsumer (@flashsale/runtime), which stops it first on SIGTERM.
 */
import { parseList } from '@flashsale/config'
import { isConnectionError } from '@flashsale/db'
import type { ProcessContext, RunningConsumer } from '@flashsale/runtime'
import { isBrokenCircuitError } from '@flashsale/resilience'
import { GateUnavailableError, createInventoryClient } from '../clients/inventory-client.ts'
import { createOrderEventsPublisher } from '../clients/order-events.ts'
import type { WorkerConfig } from '../config.ts'
import { createDeadLetterTooling } from '../clients/dead-letter-tooling.ts'
import { createStatusCache } from '../store/redis-stores.ts'
import { createWorkerContext } from './context.ts'
import { createOrderBatchHandler } from './handle-order-batch.ts'
import { createWorkerMetrics } from './metrics.ts'
import { startSweeper } from './sweeper.ts'

export async function startWorker({ config, logger, metrics, onClose, ...make }: ProcessContext<WorkerConfig>, signal: AbortSignal): Promise<RunningConsumer> {
  const redis = await make.redis({ maxRetriesPerRequest: 1 })
  const db = await make.database({ replicas: false, budget: false })
  const kafka = make.kafka('order-worker')
  const producer = await kafka.createProducer()
  // Its calls wait longer than the API's: nobody is waiting on a worker's reservation step.
  const inventory = createInventoryClient({ urls: parseList(config.INVENTORY_URLS), timeoutMs: Math.max(config.INVENTORY_TIMEOUT_MS, 2_000) })
  onClose(() => Promise.allSettled([producer.close(), inventory.close()]))
  const dlq = createDeadLetterTooling({ kafka, producer, db, dlqTopic: config.ORDERS_DLQ_TOPIC, requestedTopic: config.ORDERS_REQUESTED_TOPIC })
  const { track, persisted, deadLettered, retries, swept } = createWorkerMetrics({
    registry: metrics.registry,
    kafka,
    groupId: config.WORKER_GROUP_ID,
    topic: config.ORDERS_REQUESTED_TOPIC,
    dlqDepth: () => dlq.depth(),
  })
  const ctx = createWorkerContext(db, {
    steps: inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN),
    statusCache: createStatusCache(redis, { ttlSeconds: config.ORDER_STATUS_TTL_SECONDS }),
    publish: createOrderEventsPublisher(producer, { topic: config.ORDERS_EVENTS_TOPIC }),
    sweep: { batchSize: config.SWEEPER_BATCH_SIZE, followUpAfterMs: config.SWEEPER_FOLLOW_UP_AFTER_MS },
    log: logger,
  })

  const handle = createOrderBatchHandler({
    ctx,
    producer,
    dlqTopic: config.ORDERS_DLQ_TOPIC,
    maxAttempts: config.WORKER_MAX_ATTEMPTS,
    backoff: { baseMs: 100, capMs: 5_000 },
    isOutage: (err) => isConnectionError(err) || err instanceof GateUnavailableError || isBrokenCircuitError(err),
    signal,
    log: logger,
    onPersisted: (summary) => {
      persisted.inc({ status: 'confirmed' }, summary.confirmed)
      persisted.inc({ status: 'rejected' }, summary.rejected)
    },
    onDeadLetter: (errorClass) => deadLettered.inc({ error_class: errorClass }),
    onRetry: (reason) => retries.inc({ reason }),
  })

  const consumer = await kafka.createConsumer({ groupId: config.WORKER_GROUP_ID, topics: [config.ORDERS_REQUESTED_TOPIC], fromBeginning: true })
  await consumer.run(track(handle))
  logger.info({ topic: config.ORDERS_REQUESTED_TOPIC, group: config.WORKER_GROUP_ID }, 'worker consuming')

  // The payment-timeout sweeper runs beside the consumer in every worker instance (SKIP LOCKED: safe).
  const sweeper =
    config.SWEEPER_INTERVAL_MS > 0
      ? startSweeper(ctx, {
          intervalMs: config.SWEEPER_INTERVAL_MS,
          onPass: ({ cancelled, followedUp }) => {
            swept.inc({ outcome: 'cancelled' }, cancelled.length)
            swept.inc({ outcome: 'followed_up' }, followedUp)
          },
          onError: (err) => logger.warn({ err }, 'sweeper pass failed; the next pass retries'),
        })
      : undefined

  return {
    // close() waits for the batch in flight and commits it; the abort that follows only ends retry sleeps.
    stop: () => Promise.all([consumer.close(), sweeper?.stop()]),
    readiness: { postgres: () => db.query('SELECT 1'), redis: () => redis.ping() },
  }
}
