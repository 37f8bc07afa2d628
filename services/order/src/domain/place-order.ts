/**
 * Placing an order, as the story goes (the heart of the flash sale):
 *   claim the Idempotency-Key → find the SKU's sale → reserve at the stock gate → enqueue durably → 202.
 * Never a 202 for an order that is not in Kafka; never a reservation left behind by a request that failed.
 */
import { createHash } from 'node:crypto'
import type { OrderRequested } from '@flashsale/kafka'
import type { GateRefusal, OrderContext, PlacementOutcome } from './ports.ts'

export type PlaceOrderDeps = Pick<
  OrderContext,
  'idempotency' | 'sales' | 'gate' | 'queue' | 'statusCache' | 'newOrderId' | 'now' | 'inProgressWaitMs' | 'sleep' | 'log'
>

export interface PlaceOrderCommand {
  readonly userId: string
  readonly bearerToken: string
  readonly idempotencyKey: string
  readonly sku: string
  readonly qty: number
}

export type PlaceOrderResult =
  | { readonly kind: 'accepted'; readonly orderId: string; readonly replayed: boolean }
  | { readonly kind: 'refused'; readonly reason: GateRefusal; readonly saleId: string; readonly replayed: boolean }
  | { readonly kind: 'no_sale'; readonly sku: string }
  | { readonly kind: 'key_reused' }
  | { readonly kind: 'in_progress' }
  | { readonly kind: 'gate_unavailable'; readonly retryAfterSeconds: number }
  /** The Idempotency-Key store (Redis) did not answer: nothing was claimed or reserved. */
  | { readonly kind: 'idempotency_unavailable' }
  | { readonly kind: 'queue_unavailable' }

/** What makes two requests "the same request" for the Idempotency-Key (the body, per the IETF draft). */
export function fingerprint(command: Pick<PlaceOrderCommand, 'sku' | 'qty'>): string {
  return createHash('sha256')
    .update(JSON.stringify([command.sku, command.qty]))
    .digest('base64url')
}

export async function placeOrder(ctx: PlaceOrderDeps, command: PlaceOrderCommand): Promise<PlaceOrderResult> {
  const fp = fingerprint(command)

  // 1. Claim the key. A repeat replays what the first request did; a concurrent repeat waits for it.
  const claimed = await claimKey(ctx, command, fp)
  if (claimed) return claimed

  // Everything below either completes the key with an outcome, or frees it (nothing changed).
  let completed = false
  try {
    // 2. The SKU's current sale.
    let sale
    try {
      sale = await ctx.sales.currentSaleOf(command.sku, ctx.now())
    } catch (err) {
      ctx.log.warn({ err, sku: command.sku }, 'sale lookup failed')
      return { kind: 'gate_unavailable', retryAfterSeconds: 1 }
    }
    if (!sale) return { kind: 'no_sale', sku: command.sku }

    // 3. Reserve at the stock gate: window, per-user limit and stock checked and taken in one step.
    const orderId = ctx.newOrderId()
    const reserved = await ctx.gate.reserve({ saleId: sale.saleId, orderId, qty: command.qty, bearerToken: command.bearerToken })
    if (reserved.kind === 'unavailable') return { kind: 'gate_unavailable', retryAfterSeconds: reserved.retryAfterSeconds }
    if (reserved.kind === 'refused') {
      await complete(ctx, command, fp, { kind: 'refused', reason: reserved.reason, saleId: sale.saleId })
      completed = true
      return { kind: 'refused', reason: reserved.reason, saleId: sale.saleId, replayed: false }
    }

    // 4. Enqueue durably. Until this resolves the order does not exist for anyone but us.
    const requestedAt = ctx.now()
    const event: OrderRequested = {
      type: 'order.requested',
      v: 1,
      orderId,
      userId: command.userId,
      saleId: sale.saleId,
      sku: command.sku,
      qty: command.qty,
      idempotencyKey: command.idempotencyKey,
      reservationExpiresAt: reserved.expiresAt.toISOString(),
      requestedAt: requestedAt.toISOString(),
    }
    try {
      await ctx.queue.enqueue(event)
    } catch (err) {
      // Failed or timed out: the event may still land in Kafka. The gate decides who wins.
      ctx.log.warn({ err, orderId }, 'enqueue failed; releasing the reservation')
      const released = await ctx.gate.release({ orderId, bearerToken: command.bearerToken })
      if (released !== 'persisted') {
        if (released === 'failed') ctx.log.error({ orderId }, 'could not release the reservation of an unqueued order; it returns at its expiry')
        return { kind: 'queue_unavailable' }
      }
      // The event did land and the worker has claimed the reservation: the order exists, so it is accepted.
    }

    // 5. Accepted: the status is readable at once (the worker persists it within moments).
    await ctx.statusCache
      .put({
        orderId,
        userId: command.userId,
        saleId: sale.saleId,
        sku: command.sku,
        qty: command.qty,
        status: 'pending',
        reservationExpiresAt: event.reservationExpiresAt,
        requestedAt: event.requestedAt,
      })
      .catch((err: unknown) => ctx.log.warn({ err, orderId }, 'status cache write failed; GET /orders/:id falls back to the database'))
    await complete(ctx, command, fp, { kind: 'accepted', orderId })
    completed = true
    return { kind: 'accepted', orderId, replayed: false }
  } finally {
    if (!completed) await ctx.idempotency.forget(command.userId, command.idempotencyKey).catch(() => {})
  }
}

async function claimKey(ctx: PlaceOrderDeps, command: PlaceOrderCommand, fp: string): Promise<PlaceOrderResult | undefined> {
  const deadline = Date.now() + ctx.inProgressWaitMs
  for (;;) {
    let state
    try {
      state = await ctx.idempotency.begin(command.userId, command.idempotencyKey, fp)
    } catch (err) {
      // Without the key there is no safe placement (a retry could make a second order): refuse, change nothing.
      ctx.log.warn({ err }, 'Idempotency-Key store unavailable; the order is refused with 503')
      return { kind: 'idempotency_unavailable' }
    }
    if (state.kind === 'new') return undefined
    if (state.fingerprint !== fp) return { kind: 'key_reused' }
    if (state.kind === 'done') {
      const o = state.outcome
      return o.kind === 'accepted'
        ? { kind: 'accepted', orderId: o.orderId, replayed: true }
        : { kind: 'refused', reason: o.reason, saleId: o.saleId, replayed: true }
    }
    if (Date.now() >= deadline) return { kind: 'in_progress' }
    await ctx.sleep(25)
  }
}

async function complete(ctx: PlaceOrderDeps, command: PlaceOrderCommand, fp: string, outcome: PlacementOutcome): Promise<void> {
  // If this write is lost, a repeat finds the key in progress until it expires, then answers 409 — never a
  // second order: the worker's unique (user_id, idempotency_key) refuses it.
  await ctx.idempotency
    .complete(command.userId, command.idempotencyKey, fp, outcome)
    .catch((err: unknown) => ctx.log.warn({ err }, 'idempotency completion not stored'))
}
