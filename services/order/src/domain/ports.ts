/**
 * What the order use cases need from the world, as interfaces. src/store and src/clients implement them
 * over Redis, Kafka and HTTP; the domain imports none of those libraries.
 */
import type { OrderRequested } from '@flashsale/kafka'

/** The outcome of a placement, stored under the Idempotency-Key and replayed for a repeat. */
export type PlacementOutcome =
  { readonly kind: 'accepted'; readonly orderId: string } | { readonly kind: 'refused'; readonly reason: GateRefusal; readonly saleId: string }

export type GateRefusal = 'sold_out' | 'limit_reached' | 'not_open' | 'closed' | 'paused' | 'unknown_sale'

export type IdempotencyBegin =
  | { readonly kind: 'new' }
  | { readonly kind: 'done'; readonly fingerprint: string; readonly outcome: PlacementOutcome }
  | { readonly kind: 'in_progress'; readonly fingerprint: string }

export interface IdempotencyStore {
  /** Claims the key for this request, or says what an earlier request with the key did or is doing. */
  begin(userId: string, key: string, fingerprint: string): Promise<IdempotencyBegin>
  complete(userId: string, key: string, fingerprint: string, outcome: PlacementOutcome): Promise<void>
  /** Frees the key after a failure that changed nothing, so the client can retry with it. */
  forget(userId: string, key: string): Promise<void>
}

export type ReserveResult =
  | { readonly kind: 'reserved'; readonly expiresAt: Date }
  | { readonly kind: 'refused'; readonly reason: GateRefusal }
  /** The gate could not answer (down, breaker open, timeout, throttled): nothing was reserved, or it was released. */
  | { readonly kind: 'unavailable'; readonly retryAfterSeconds: number }

/**
 * released: the units are back and the worker will refuse the order (its reservation is gone).
 * persisted: too late — the worker already claimed the reservation, so the order exists.
 * failed: the gate could not say; the reservation stays until it expires.
 */
export type ReleaseResult = 'released' | 'persisted' | 'failed'

export interface StockGate {
  reserve(request: { saleId: string; orderId: string; qty: number; bearerToken: string }): Promise<ReserveResult>
  /** Returns the units of an order that will not be placed, unless the worker has claimed it already. */
  release(request: { orderId: string; bearerToken: string }): Promise<ReleaseResult>
}

export interface OrderQueue {
  /** Resolves once the event is durably in Kafka (acks=all); rejects on failure or past the latency budget. */
  enqueue(event: OrderRequested): Promise<void>
}

export interface OrderStatusView {
  readonly orderId: string
  readonly userId: string
  readonly saleId: string
  readonly sku: string
  readonly qty: number
  readonly status: 'pending' | 'confirmed' | 'rejected' | 'paid' | 'cancelled'
  readonly reason?: string | undefined
  readonly reservationExpiresAt: string
  readonly requestedAt: string
}

export interface StatusCache {
  put(view: OrderStatusView): Promise<void>
  get(orderId: string): Promise<OrderStatusView | undefined>
}

export interface SaleDirectory {
  /** The sale a buyer of `sku` buys in right now (the newest whose window holds `now`), if any. */
  currentSaleOf(sku: string, now: Date): Promise<{ readonly saleId: string } | undefined>
}
