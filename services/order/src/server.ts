/** The order API process: its clients and migrations, then it serves (@flashsale/runtime). The worker is src/worker.ts. */
import { runHttpService } from '@flashsale/runtime'
import { buildApp } from './app.ts'
import { deadLetterToolingFor } from './clients/dead-letter-tooling.ts'
import { inventoryClientFor } from './clients/inventory-client.ts'
import { readConfig } from './config.ts'
import { migrateOrders } from './store/migrations.ts'

const config = readConfig(process.env)
await runHttpService({
  service: 'order',
  config,
  port: config.PORT,
  async start({ logger, metrics, onClose, ...make }) {
    const redis = await make.redis({ maxRetriesPerRequest: 1, enableOfflineQueue: false })
    const db = await make.database({ recentWrites: { redis, windowMs: config.READ_YOUR_WRITES_MS }, migrate: migrateOrders })
    const kafka = make.kafka('order-api')
    const producer = await kafka.createProducer()
    const inventory = inventoryClientFor(config, { registry: metrics.registry, log: logger })
    onClose(() => Promise.allSettled([producer.close(), inventory.close()]))
    const dlq = deadLetterToolingFor(config, { kafka, producer, db, inventory })
    const deps = { logger, metrics, verifier: await make.verifier(), redis, db, producer, inventory, dlq }
    return buildApp(config, { ...deps, ordersRequestedTopic: config.ORDERS_REQUESTED_TOPIC })
  },
})
