/**
 * Release, claim, commit and confirm reservations by order id — the order service's side of the gate.
 *   release: a buyer gives back their own not-yet-claimed reservation (the order could not be queued);
 *            the order service (admin token) gives back any (cancelled, timed out, rejected by the worker).
 *            Exactly once: a second release finds the tombstone and returns 0 units.
 *   claim:   the worker, before its transaction: reserved → committing, so no buyer release can race it;
 *            'released'/'expired' tell it not to persist the order.
 *   commit:  the worker, after its transaction commits: the units now live in Postgres `sold`.
 *   confirm: paid; the reservation no longer expires.
 */
import type { InventoryContext } from './ports.ts'
import type { AdvanceResult, AdvanceTarget, ReleaseResult, Reservation } from './reservation.ts'

export interface Caller {
  readonly userId: string
  readonly admin: boolean
}

export async function releaseReservation(ctx: InventoryContext, orderId: string, caller: Caller): Promise<ReleaseResult> {
  const result = await ctx.gate.release({ orderId, ...(caller.admin ? {} : { ownerUserId: caller.userId }), now: ctx.clock.now() })
  // Units came back: this instance stops answering sold_out from memory for the sale at once.
  if (result.outcome === 'released' && result.saleId) ctx.soldOut.forget(result.saleId)
  return result
}

export function advanceReservations(ctx: InventoryContext, orderIds: readonly string[], target: AdvanceTarget): Promise<AdvanceResult[]> {
  return ctx.gate.advance(orderIds, target, ctx.clock.now())
}

/** The reservation, for its buyer or an admin; null when unknown or another buyer's. */
export async function findReservation(ctx: InventoryContext, orderId: string, caller: Caller): Promise<Reservation | null> {
  const reservation = await ctx.gate.getReservation(orderId)
  if (!reservation) return null
  return caller.admin || reservation.userId === caller.userId ? reservation : null
}
