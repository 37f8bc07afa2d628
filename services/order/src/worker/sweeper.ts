/**
 * The payment-timeout sweeper as a loop (started by the worker, src/worker/start.ts): one pass of
 * domain/sweep-unpaid-orders.ts every `intervalMs`. Any number of loops may run (every worker instance
 * runs one); SKIP LOCKED keeps them off each other's rows. The pass takes its ports and settings from the
 * worker's context (worker/context.ts).
 */
import { startLoop, type Loop } from '@flashsale/resilience'
import { sweepUnpaidOrders, type SweepDeps, type SweepSummary } from '../domain/sweep-unpaid-orders.ts'

/** The sweeper, a pass every `intervalMs` (startLoop of @flashsale/resilience: stop() waits for the pass in flight). */
export function startSweeper(
  ctx: SweepDeps,
  { intervalMs, onPass, onError }: { intervalMs: number; onPass?: (summary: SweepSummary) => void; onError: (err: unknown) => void },
): Loop {
  // A failed pass (the database down or the like) leaves nothing half done (one transaction): the next one tries again.
  return startLoop(() => sweepUnpaidOrders(ctx), { intervalMs, onError, ...(onPass ? { onPass } : {}) })
}
