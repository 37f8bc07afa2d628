/**
 * Reserve stock for one order: the story of POST /reservations.
 *   1. sold out a moment ago?   → sold_out from memory, Redis untouched (the short-circuit)
 *   2. hot sale over its rate?  → throttled, Redis untouched (the hot-parameter limiter)
 *   3. the gate (one Lua script): state + window → buyer's limit → stock → reserve, or a typed refusal
 *   4. the gate cannot answer   → unavailable: fail closed, never guess (ADR: fail-closed gate)
 */
import type { InventoryContext } from './ports.ts'
import type { ReserveResult } from './reservation.ts'

export interface ReserveRequest {
  readonly saleId: string
  readonly orderId: string
  /** Always the authenticated caller; never taken from a request body. */
  readonly userId: string
  readonly qty: number
}

export async function reserveStock(ctx: InventoryContext, request: ReserveRequest): Promise<ReserveResult> {
  const { saleId } = request

  if (ctx.soldOut.isSoldOut(saleId)) {
    ctx.metrics.soldOutShortCircuit(saleId)
    return { outcome: 'sold_out', shortCircuit: true }
  }

  const admission = ctx.limiter.take(saleId)
  if (!admission.allowed) {
    ctx.metrics.hotSaleThrottled(saleId)
    return { outcome: 'throttled', retryAfterMs: admission.retryAfterMs }
  }

  const result = await askGate(ctx, request)
  ctx.metrics.gateOutcome(result.outcome)
  return result
}

async function askGate(ctx: InventoryContext, request: ReserveRequest): Promise<ReserveResult> {
  let reply
  try {
    reply = await ctx.gate.reserve({ ...request, now: ctx.clock.now() })
  } catch (err) {
    ctx.log.warn({ err, saleId: request.saleId }, 'stock gate unavailable; refusing the reservation')
    return { outcome: 'unavailable', reason: 'error' }
  }
  switch (reply.outcome) {
    case 'reserved':
      return { outcome: 'reserved', reservation: reply.reservation }
    case 'duplicate':
      return { outcome: 'duplicate', reservation: reply.reservation }
    case 'sold_out':
      // Only a sale with nothing left is remembered; "3 asked, 2 left" is not sold out for the next buyer.
      if (reply.available <= 0) ctx.soldOut.markSoldOut(request.saleId)
      return { outcome: 'sold_out', shortCircuit: false }
    case 'limit_reached':
      return { outcome: 'limit_reached', limit: reply.limit, held: reply.held }
    case 'rebuilding':
      return { outcome: 'unavailable', reason: 'rebuilding' }
    case 'unreplicated':
      return { outcome: 'unavailable', reason: 'unreplicated' }
    case 'missing':
      // No gate state: either no such sale, or Redis lost it. Only Postgres can tell, and a lost state
      // means refusing until the rebuild — never reserving against a guess.
      try {
        return (await ctx.sales.exists(request.saleId)) ? { outcome: 'unavailable', reason: 'missing' } : { outcome: 'unknown_sale' }
      } catch (err) {
        ctx.log.warn({ err, saleId: request.saleId }, 'cannot tell whether the sale exists; refusing')
        return { outcome: 'unavailable', reason: 'error' }
      }
    default:
      return { outcome: reply.outcome }
  }
}
