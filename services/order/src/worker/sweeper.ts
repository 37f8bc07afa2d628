/**
 * The payment-timeout sweeper as a loop (started by the worker, src/worker/start.ts): one pass of
 * domain/sweep-unpaid-orders.ts every `intervalMs`. Any number of loops may run (every worker instance
 * runs one); SKIP LOCKED keeps them off each other's rows. createSweepDeps wires the pass to Postgres and
 * to the status-change effects (createOrderEffects, store/order-lifecycle-store.ts), for the worker and
 * for tests alike.
 */
import type { Database } from '@flashsale/db'
import { startLoop, type Loop } from '@flashsale/resilience'
import type { OrderEffectsDeps } from '../domain/order-effects.ts'
import { sweepUnpaidOrders, type SweepDeps, type SweepSummary } from '../domain/sweep-unpaid-orders.ts'
import { createOrderLifecycleStore } from '../store/order-lifecycle-store.ts'

export function createSweepDeps(
  db: Database,
  effects: OrderEffectsDeps,
  {
    batchSize = 200,
    maxBatchesPerPass = 50,
    followUpAfterMs = 30_000,
    log,
  }: { batchSize?: number; maxBatchesPerPass?: number; followUpAfterMs?: number; log: SweepDeps['log'] },
): SweepDeps {
  return { store: createOrderLifecycleStore(db), effects, batchSize, maxBatchesPerPass, followUpAfterMs, log }
}

/** The sweeper, a pass every `intervalMs` (startLoop of @flashsale/resilience: stop() waits for the pass in flight). */
export function startSweeper(
  deps: SweepDeps,
  { intervalMs, onPass, onError }: { intervalMs: number; onPass?: (summary: SweepSummary) => void; onError: (err: unknown) => void },
): Loop {
  // A failed pass (the database down or the like) leaves nothing half done (one transaction): the next one tries again.
  return startLoop(() => sweepUnpaidOrders(deps), { intervalMs, onError, ...(onPass ? { onPass } : {}) })
}
