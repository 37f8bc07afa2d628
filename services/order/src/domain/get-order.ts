/**
 * An order's status, for its buyer only (anyone else gets "not found", not "forbidden": order ids are not
 * to be probed). The status cache answers first (it also knows orders still in the queue); else the
 * database, read-your-own-writes, and the answer is cached.
 */
import type { Log } from '@flashsale/logging'
import type { OrderStatusView, StatusCache } from './ports.ts'

export interface GetOrderDeps {
  readonly statusCache: StatusCache
  readonly orders: { findForUser(orderId: string, userId: string): Promise<OrderStatusView | undefined> }
  readonly log: Pick<Log, 'warn'>
}

export async function getOrder(deps: GetOrderDeps, orderId: string, userId: string): Promise<OrderStatusView | undefined> {
  const cached = await deps.statusCache.get(orderId).catch((err: unknown) => {
    deps.log.warn({ err }, 'status cache unreadable; reading the database')
    return undefined
  })
  // A pending entry may be stale once the worker has persisted the order: let the database answer then.
  if (cached && cached.status !== 'pending') return cached.userId === userId ? cached : undefined
  const stored = await deps.orders.findForUser(orderId, userId)
  if (stored) {
    await deps.statusCache.put(stored).catch(() => {})
    return stored
  }
  return cached && cached.userId === userId ? cached : undefined
}
