/**
 * An order's status, for its buyer only (anyone else gets "not found", not "forbidden": order ids are not
 * to be probed). The status cache answers first (it also knows orders still in the queue); else the
 * database, read-your-own-writes, and the answer is cached.
 */
import type { OrderContext, OrderStatusView } from './ports.ts'

export type GetOrderDeps = Pick<OrderContext, 'statusCache' | 'orders' | 'log'>

export async function getOrder(ctx: GetOrderDeps, orderId: string, userId: string): Promise<OrderStatusView | undefined> {
  const cached = await ctx.statusCache.get(orderId).catch((err: unknown) => {
    ctx.log.warn({ err }, 'status cache unreadable; reading the database')
    return undefined
  })
  // A pending entry may be stale once the worker has persisted the order: let the database answer then.
  if (cached && cached.status !== 'pending') return cached.userId === userId ? cached : undefined
  const stored = await ctx.orders.findForUser(orderId, userId)
  if (stored) {
    await ctx.statusCache.put(stored).catch(() => {})
    return stored
  }
  return cached && cached.userId === userId ? cached : undefined
}
