/**
 * The verified-buyer projector process (second entry point of the review service): orders.events →
 * review.verified_purchases. Serves only /health/* and /metrics. `node services/review/src/projector.ts`
 */
import Fastify from 'fastify'
import { parseList } from '@flashsale/config'
import { createDatabase } from '@flashsale/db'
import { createKafka } from '@flashsale/kafka'
import { createLogger } from '@flashsale/logging'
import { Gauge, createProcessMetrics } from '@flashsale/metrics'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import { readConfig } from './config.ts'
import { startOrderEventsProjector } from './order-events-projector.ts'
import { createPurchaseStore } from './store/purchase-store.ts'
import { migrateReview } from './store/migrations.ts'

const config = readConfig(process.env)
const { logger, flush } = createLogger({ service: 'review-projector', level: config.LOG_LEVEL })
if (parseList(config.KAFKA_BROKERS).length === 0) {
  logger.fatal('KAFKA_BROKERS is empty: set it to the Kafka bootstrap brokers (host:port, comma-separated), e.g. node --env-file=.local/stack.env')
  flush()
  process.exit(1)
}
const metrics = createProcessMetrics({ service: 'review-projector' })
const db = createDatabase({ primaryUrl: config.PG_PRIMARY_URL, replicaUrls: [], registry: metrics.registry, poolOptions: { name: 'review-projector', max: 4 } })
await migrateReview(db.primary)

const ops = Fastify(serviceFastifyOptions(logger))
await ops.register(serviceDefaults, { metrics, readiness: { postgres: () => db.query('SELECT 1') } })
await ops.listen({ host: config.HOST, port: config.PROJECTOR_PORT })

const kafka = createKafka({ brokers: parseList(config.KAFKA_BROKERS), clientId: 'review-projector', logger })
const projector = await startOrderEventsProjector({
  kafka,
  purchases: createPurchaseStore(db),
  topic: config.ORDERS_EVENTS_TOPIC,
  groupId: config.PROJECTOR_GROUP_ID,
  registry: metrics.registry,
  log: logger,
})

// How far the read model is behind orders.events: a buyer whose order is that far back still gets 403.
const lag = new Gauge({
  name: 'review_projector_lag_messages',
  help: 'orders.events messages not yet applied by the verified-buyer projector (sum over partitions)',
  registers: [metrics.registry],
})
const lagTimer = setInterval(() => {
  kafka
    .consumerLag(config.PROJECTOR_GROUP_ID, config.ORDERS_EVENTS_TOPIC)
    .then((byPartition) => lag.set([...byPartition.values()].reduce((a, b) => a + b, 0)))
    .catch((err: unknown) => logger.warn({ err }, 'consumer lag unavailable'))
}, 5_000)
lagTimer.unref()

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'projector stopping: finishing the batch in flight')
    clearInterval(lagTimer)
    void (async () => {
      await projector.close().catch((err: unknown) => logger.error({ err }, 'consumer close failed'))
      await ops.close()
      await db.close()
      metrics.stop()
      flush()
      process.exit(0)
    })()
  })
}
