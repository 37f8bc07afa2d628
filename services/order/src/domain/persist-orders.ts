/**
 * The worker's use case, for one batch of orders.requested (one Kafka partition's batch):
 *   claim the reservations at the gate → persist the batch in one transaction (orders + stock ledger)
 *   → tell the gate what became of each → refresh the status cache → publish orders.events.
 * Every step is idempotent, so a batch redelivered after a crash anywhere converges to the same state:
 * the transaction inserts nothing twice (order id is the key) and the later steps are re-derived from the
 * database, not from what this attempt did.
 */
import type { OrderRequested } from '@flashsale/kafka'
import type { OrderWorkerContext } from './ports.ts'

export type PersistOrdersDeps = Pick<OrderWorkerContext, 'reservations' | 'persist' | 'statusCache' | 'publish'>

export interface ToPersist extends Omit<OrderRequested, 'type' | 'v'> {
  readonly rejectReason?: string
}

export interface PersistSummary {
  readonly confirmed: number
  readonly rejected: number
  readonly other: number
}

export async function persistOrders(ctx: PersistOrdersDeps, events: readonly OrderRequested[]): Promise<PersistSummary> {
  // A batch can hold one order twice (a producer retry before idempotence, a replay): keep the first.
  const unique = [...new Map(events.map((e) => [e.orderId, e])).values()]
  if (unique.length === 0) return { confirmed: 0, rejected: 0, other: 0 }

  // 1. Claim: from here the API cannot release these reservations. A reservation already released (the
  //    API gave up after a failed enqueue) or expired must not become an order that takes stock.
  //    not_found (Redis lost it) lets Postgres decide: commit_units still guards the total.
  const claims = await ctx.reservations.claim(unique.map((e) => e.orderId))
  const toPersist: ToPersist[] = unique.map(({ type: _t, v: _v, ...order }) => {
    const claim = claims.get(order.orderId) ?? 'not_found'
    return claim === 'released' || claim === 'expired' ? { ...order, rejectReason: `reservation_${claim}` } : order
  })

  // 2. One transaction for the batch.
  const stored = await ctx.persist(toPersist)

  // 3. The gate learns the outcome, from the stored state (right even when this is a redelivery).
  const claimed = new Set(unique.filter((e) => ['ok', 'already'].includes(claims.get(e.orderId) ?? '')).map((e) => e.orderId))
  const confirmed = stored.filter((o) => o.status === 'confirmed' || o.status === 'paid')
  const refused = stored.filter((o) => o.status === 'rejected' && claimed.has(o.orderId))
  await ctx.reservations.commit(confirmed.map((o) => o.orderId))
  if (refused.length > 0) await ctx.reservations.release(refused.map((o) => o.orderId))

  // 4. Buyers polling GET /orders/:id see the outcome (best effort: the database answers when the cache
  //    cannot); read models hear of it (must succeed, or the batch is redelivered and published again).
  await Promise.all(stored.map((o) => ctx.statusCache.put(o).catch(() => {})))
  await ctx.publish(stored)

  return {
    confirmed: confirmed.length,
    rejected: stored.filter((o) => o.status === 'rejected').length,
    other: stored.filter((o) => o.status === 'cancelled').length,
  }
}
