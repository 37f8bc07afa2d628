/**
 * The worker's context (OrderWorkerContext, domain/ports.ts), made once from its clients: what persisting a
 * batch and the sweeper's pass may use. worker/start.ts makes it for the process; the tests make it the
 * same way on their own stack.
 */
import { withTransaction, type Database } from '@flashsale/db'
import type { OrderStatusView, OrderWorkerContext, ReservationSteps, StatusCache, SweepSettings } from '../domain/ports.ts'
import { createOrderEffects, createOrderLifecycleStore } from '../store/order-lifecycle-store.ts'
import { persistBatch } from '../store/orders-store.ts'

export interface WorkerContextOptions {
  /** The gate's admin steps, with the service credential. */
  readonly steps: ReservationSteps
  readonly statusCache: StatusCache
  /** orders.events. */
  readonly publish: (orders: readonly OrderStatusView[]) => Promise<void>
  readonly sweep?: Partial<SweepSettings>
  readonly log: OrderWorkerContext['log']
}

export function createWorkerContext(db: Database, { steps, statusCache, publish, sweep = {}, log }: WorkerContextOptions): OrderWorkerContext {
  return {
    reservations: steps,
    persist: (orders) => withTransaction(db.primary, (client) => persistBatch(client, orders)),
    statusCache,
    publish,
    unpaid: createOrderLifecycleStore(db),
    effects: createOrderEffects(db, { steps, statusCache, publish }),
    sweep: { batchSize: 200, maxBatchesPerPass: 50, followUpAfterMs: 30_000, ...sweep },
    log,
  }
}
