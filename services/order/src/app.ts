/**
 * buildApp: the order API, from clients made elsewhere (server.ts, or a test on real servers). Never listens.
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { v7 as uuidv7 } from 'uuid'
import type { TokenVerifier } from '@flashsale/auth'
import type { Database } from '@flashsale/db'
import type { Producer } from '@flashsale/kafka'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { sleep } from '@flashsale/resilience'
import { createServiceApp } from '@flashsale/runtime'
import type { DeadLetterTooling } from './clients/dead-letter-tooling.ts'
import type { InventoryClient } from './clients/inventory-client.ts'
import { createOrderEventsPublisher } from './clients/order-events.ts'
import { createOrderQueue } from './clients/order-queue.ts'
import type { Config } from './config.ts'
import { OPENAPI_INFO } from './contract.ts'
import type { OrderContext } from './domain/ports.ts'
import { adminDlqRoutes } from './routes/admin-dlq.ts'
import { historyRoutes } from './routes/history.ts'
import { orderRoutes } from './routes/orders.ts'
import { paymentRoutes } from './routes/payments.ts'
import { createOrderEffects, createOrderLifecycleStore } from './store/order-lifecycle-store.ts'
import { createOrdersReader } from './store/orders-store.ts'
import { createIdempotencyStore, createStatusCache } from './store/redis-stores.ts'
import { createOrderApiMetrics } from './metrics.ts'

export interface AppDeps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  readonly verifier: TokenVerifier
  readonly redis: Redis
  readonly db: Database
  readonly producer: Producer
  readonly inventory: InventoryClient
  /** Topic override, for tests on uniquely named topics. */
  readonly ordersRequestedTopic?: string
  /** The DLQ tooling behind /admin/dlq (absent: those routes are not served). */
  readonly dlq?: DeadLetterTooling
}

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = await createServiceApp({
    service: 'order',
    logger: deps.logger,
    metrics: deps.metrics,
    verifier: deps.verifier,
    redis: deps.redis,
    openapi: OPENAPI_INFO,
    // Nothing shared makes this instance unready (ADR 0028). Not even its circuit to the inventory: the
    // inventory fails every order instance alike, and a circuit only closes through a call, so a readiness
    // tied to it took every instance out for good (make chaos-downstream-500: orders never came back).
    // Shared datastores: without the primary, orders still queue in Kafka (the worker persists them later);
    // without Redis, placement answers 503 with its reason. Reported, never a reason to eject.
    dependencies: {
      postgres: () => deps.db.query('SELECT 1'),
      redis: () => deps.redis.ping(),
      'inventory-circuit': async () => {
        if (deps.inventory.breaker.state === 'open') throw new Error('circuit to inventory is open')
      },
    },
  })

  const statusCache = createStatusCache(deps.redis, { ttlSeconds: config.ORDER_STATUS_TTL_SECONDS })
  const metrics = createOrderApiMetrics(deps.metrics.registry)
  const lifecycle = createOrderLifecycleStore(deps.db)
  const ctx: OrderContext = {
    idempotency: createIdempotencyStore(deps.redis, { ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS }),
    sales: deps.inventory,
    gate: deps.inventory,
    queue: createOrderQueue(deps.producer, {
      timeoutMs: config.KAFKA_SEND_TIMEOUT_MS,
      onEnqueued: metrics.enqueued,
      ...(deps.ordersRequestedTopic ? { topic: deps.ordersRequestedTopic } : {}),
    }),
    statusCache,
    orders: createOrdersReader(deps.db),
    payments: lifecycle,
    history: lifecycle,
    // The gate's confirm is an admin step: the API makes it with the service credential, like the worker.
    effects: createOrderEffects(deps.db, {
      steps: deps.inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN),
      statusCache,
      publish: createOrderEventsPublisher(deps.producer, { topic: config.ORDERS_EVENTS_TOPIC }),
    }),
    newOrderId: () => uuidv7(),
    newPaymentReference: () => `sim_${uuidv7()}`,
    now: () => new Date(),
    inProgressWaitMs: 2_000,
    sleep: (ms) => sleep(ms),
    log: app.log,
  }

  await app.register(orderRoutes, { ctx, placed: metrics.placed })
  await app.register(paymentRoutes, { ctx })
  await app.register(historyRoutes, { ctx })
  // The DLQ use cases' context is the DLQ tooling, which the CLI (bin/dlq.ts) shares.
  if (deps.dlq) await app.register(adminDlqRoutes, { dlq: deps.dlq })
  return app
}
