/**
 * The payment-timeout sweeper's pass, as the story goes:
 *   cancel unpaid orders past their reservation window, returning their units to the Postgres ledger in
 *   the same transaction → release their reservations at the stock gate (Redis) → status cache, `cancelled`
 *   on orders.events; then finish any follow-up another process left unfinished (a crash after COMMIT).
 * Safe with any number of sweepers at once: the cancelling transaction takes rows with SKIP LOCKED, so each
 * order is cancelled by exactly one of them, and the gate's release is idempotent (tombstones).
 */
import { applyStatusEffects } from './order-effects.ts'
import type { OrderStatusView, OrderWorkerContext } from './ports.ts'

export type SweepDeps = Pick<OrderWorkerContext, 'unpaid' | 'effects' | 'sweep' | 'log'>

export interface SweepSummary {
  /** The orders this sweeper cancelled (another sweeper's are not here). */
  readonly cancelled: readonly OrderStatusView[]
  readonly followedUp: number
}

export async function sweepUnpaidOrders(ctx: SweepDeps): Promise<SweepSummary> {
  const cancelled: OrderStatusView[] = []
  // 1. Cancel and return the units to Postgres (one transaction per batch), then to the gate.
  for (let i = 0; i < ctx.sweep.maxBatchesPerPass; i++) {
    const batch = await ctx.unpaid.cancelExpired(ctx.sweep.batchSize)
    cancelled.push(...batch)
    await applyStatusEffects(ctx.effects, batch).catch((err: unknown) =>
      ctx.log.warn({ err, orders: batch.length }, 'cancellation follow-up failed; retried by a later pass'),
    )
    if (batch.length < ctx.sweep.batchSize) break
  }
  // 2. Follow-ups left unfinished by a process that died after its COMMIT (payments and cancellations).
  const stale = await ctx.unpaid.takePendingEffects(ctx.sweep.followUpAfterMs, ctx.sweep.batchSize)
  if (stale.length > 0) {
    await applyStatusEffects(ctx.effects, stale).catch((err: unknown) =>
      ctx.log.warn({ err, orders: stale.length }, 'follow-up failed; retried by a later pass'),
    )
  }
  return { cancelled, followedUp: stale.length }
}
