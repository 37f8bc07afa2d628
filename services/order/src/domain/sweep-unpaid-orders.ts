/**
 * The payment-timeout sweeper's pass, as the story goes:
 *   cancel unpaid orders past their reservation window, returning their units to the Postgres ledger in
 *   the same transaction → release their reservations at the stock gate (Redis) → status cache, `cancelled`
 *   on orders.events; then finish any follow-up another process left unfinished (a crash after COMMIT).
 * Safe with any number of sweepers at once: the cancelling transaction takes rows with SKIP LOCKED, so each
 * order is cancelled by exactly one of them, and the gate's release is idempotent (tombstones).
 */
import type { Log } from '@flashsale/logging'
import { applyStatusEffects, type OrderEffectsDeps } from './order-effects.ts'
import type { OrderStatusView } from './ports.ts'

export interface SweepDeps {
  readonly store: {
    cancelExpired(limit: number): Promise<OrderStatusView[]>
    takePendingEffects(olderThanMs: number, limit: number): Promise<OrderStatusView[]>
  }
  readonly effects: OrderEffectsDeps
  /** Orders per cancelling transaction. */
  readonly batchSize: number
  /** Transactions per pass at most, so one pass ends even while orders keep expiring. */
  readonly maxBatchesPerPass: number
  /** A follow-up pending longer than this is presumed abandoned by its process. */
  readonly followUpAfterMs: number
  readonly log: Pick<Log, 'warn'>
}

export interface SweepSummary {
  /** The orders this sweeper cancelled (another sweeper's are not here). */
  readonly cancelled: readonly OrderStatusView[]
  readonly followedUp: number
}

export async function sweepUnpaidOrders(deps: SweepDeps): Promise<SweepSummary> {
  const cancelled: OrderStatusView[] = []
  // 1. Cancel and return the units to Postgres (one transaction per batch), then to the gate.
  for (let i = 0; i < deps.maxBatchesPerPass; i++) {
    const batch = await deps.store.cancelExpired(deps.batchSize)
    cancelled.push(...batch)
    await applyStatusEffects(deps.effects, batch).catch((err: unknown) =>
      deps.log.warn({ err, orders: batch.length }, 'cancellation follow-up failed; retried by a later pass'),
    )
    if (batch.length < deps.batchSize) break
  }
  // 2. Follow-ups left unfinished by a process that died after its COMMIT (payments and cancellations).
  const stale = await deps.store.takePendingEffects(deps.followUpAfterMs, deps.batchSize)
  if (stale.length > 0) {
    await applyStatusEffects(deps.effects, stale).catch((err: unknown) =>
      deps.log.warn({ err, orders: stale.length }, 'follow-up failed; retried by a later pass'),
    )
  }
  return { cancelled, followedUp: stale.length }
}
