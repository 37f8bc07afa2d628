/**
 * What follows a committed status change outside the database, in order: tell the stock gate (paid →
 * confirm: the reservation no longer expires; cancelled → release: the units go back to buyers), refresh
 * the status cache, publish orders.events, then mark the follow-up done. Every step is idempotent (the
 * gate's steps answer `already`, releases leave tombstones), so a follow-up interrupted anywhere is simply
 * done again by the sweeper's follow-up pass (effects_pending_since, migrations/0002).
 */
import type { OrderStatusView, StatusCache } from './ports.ts'

export interface OrderEffectsDeps {
  readonly gate: {
    confirm(orderIds: readonly string[]): Promise<unknown>
    release(orderIds: readonly string[]): Promise<void>
  }
  readonly statusCache: StatusCache
  readonly publish: (orders: readonly OrderStatusView[]) => Promise<void>
  readonly markDone: (orderIds: readonly string[]) => Promise<void>
}

export async function applyStatusEffects(deps: OrderEffectsDeps, orders: readonly OrderStatusView[]): Promise<void> {
  if (orders.length === 0) return
  const paid = orders.filter((o) => o.status === 'paid').map((o) => o.orderId)
  const cancelled = orders.filter((o) => o.status === 'cancelled').map((o) => o.orderId)
  if (paid.length > 0) await deps.gate.confirm(paid)
  if (cancelled.length > 0) await deps.gate.release(cancelled)
  await Promise.all(orders.map((o) => deps.statusCache.put(o).catch(() => {})))
  await deps.publish(orders)
  await deps.markDone(orders.map((o) => o.orderId))
}
