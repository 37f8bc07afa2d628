/**
 * The verified-buyer projector process (the review service's second entry point): orders.events →
 * review.verified_purchases. Serves only /health/* and /metrics (@flashsale/runtime).
 */
import { runConsumer } from '@flashsale/runtime'
import { readProjectorConfig } from './config.ts'
import { startOrderEventsProjector } from './order-events-projector.ts'
import { createPurchaseStore } from './store/purchase-store.ts'
import { migrateReview } from './store/migrations.ts'

const config = readProjectorConfig(process.env)
await runConsumer({
  service: 'review-projector',
  config,
  port: config.PROJECTOR_PORT,
  async start({ logger, metrics, ...make }) {
    const db = await make.database({ replicas: false, budget: false, pool: { max: 4 }, migrate: migrateReview })
    const purchases = createPurchaseStore(db)
    const options = { topic: config.ORDERS_EVENTS_TOPIC, groupId: config.PROJECTOR_GROUP_ID, lagIntervalMs: 5_000 }
    const projector = await startOrderEventsProjector({ ...options, kafka: make.kafka(), purchases, registry: metrics.registry, log: logger })
    return { stop: () => projector.close(), readiness: { postgres: () => db.query('SELECT 1') } }
  },
})
