/**
 * The verified-buyer read model: order.status-changed events → one purchase row per order.
 * Idempotent on redelivery (keyed by order id; the same status again changes nothing) and safe against
 * reordering across redeliveries (cancelled/rejected are final: see nextStatus in review.ts).
 * Events that do not match the contract cannot be fixed by retrying: they are counted and skipped.
 */
import type { Purchase } from './review.ts'

export interface OrderEvent {
  readonly orderId: string
  readonly userId: string
  readonly sku: string
  readonly qty: number
  readonly status: Purchase['status']
  readonly occurredAt: string
}

export const toPurchase = (e: OrderEvent): Purchase => ({
  orderId: e.orderId,
  userId: e.userId,
  sku: e.sku,
  qty: e.qty,
  status: e.status,
  occurredAt: e.occurredAt,
})
