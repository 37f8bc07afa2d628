/**
 * What the order use cases need from the world, as interfaces, and the two contexts that carry them: the
 * API's (OrderContext, made by app.ts) and the worker's (OrderWorkerContext, made by worker/context.ts).
 * src/store and src/clients implement the ports over Postgres, Redis, Kafka and HTTP; the domain imports
 * none of those libraries. A use case takes the slice of its process's context it uses (docs/adr/0038).
 */
import type { OrderRequested } from '@flashsale/kafka'
import type { Log } from '@flashsale/logging'
import type { HistoryCursor, HistoryPage } from './list-orders.ts'
import type { OrderEffectsDeps } from './order-effects.ts'
import type { PaymentAttempt } from './pay-order.ts'
import type { ToPersist } from './persist-orders.ts'

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

/** What the gate says of a reservation when the worker claims it (inventory's AdvanceOutcome). */
export type ClaimOutcome = 'ok' | 'already' | 'released' | 'expired' | 'not_found'

/** The stock gate's admin steps (with the service credential): what the worker, payments and the sweeper tell it. */
export interface ReservationSteps {
  /** reserved → committing, so the API can no longer release it; per order, what the gate found. */
  claim(orderIds: readonly string[]): Promise<ReadonlyMap<string, ClaimOutcome>>
  /** committing → committed: the units are now counted in Postgres. */
  commit(orderIds: readonly string[]): Promise<void>
  /** committed → confirmed: the order is paid, its reservation no longer expires (payment). */
  confirm(orderIds: readonly string[]): Promise<void>
  /** Gives back the units of orders Postgres refused (sold out, limit, duplicate) or cancelled (sweeper). */
  release(orderIds: readonly string[]): Promise<void>
}

/** Everything the order API's use cases may use, made once by app.ts (or a test) and handed to every route. */
export interface OrderContext {
  readonly idempotency: IdempotencyStore
  readonly sales: SaleDirectory
  readonly gate: StockGate
  readonly queue: OrderQueue
  readonly statusCache: StatusCache
  readonly orders: { findForUser(orderId: string, userId: string): Promise<OrderStatusView | undefined> }
  readonly payments: { pay(orderId: string, userId: string, reference: string): Promise<PaymentAttempt> }
  readonly history: { history(userId: string, limit: number, cursor: HistoryCursor | undefined): Promise<HistoryPage> }
  /** What follows a committed status change (a payment). */
  readonly effects: OrderEffectsDeps
  readonly newOrderId: () => string
  readonly newPaymentReference: () => string
  readonly now: () => Date
  /** How long a duplicate waits for the first request with its key to finish. */
  readonly inProgressWaitMs: number
  readonly sleep: (ms: number) => Promise<void>
  /** The routes hand each use case the request's logger in its place, so its lines carry the request id. */
  readonly log: Pick<Log, 'warn' | 'error'>
}

export interface SweepSettings {
  /** Orders per cancelling transaction. */
  readonly batchSize: number
  /** Transactions per pass at most, so one pass ends even while orders keep expiring. */
  readonly maxBatchesPerPass: number
  /** A follow-up pending longer than this is presumed abandoned by its process. */
  readonly followUpAfterMs: number
}

/** Everything the worker's use cases (persist a batch, sweep) may use, made once by worker/context.ts (or a test). */
export interface OrderWorkerContext {
  readonly reservations: ReservationSteps
  /** One transaction: see store/orders-store.ts persistBatch. */
  readonly persist: (orders: readonly ToPersist[]) => Promise<OrderStatusView[]>
  readonly statusCache: StatusCache
  readonly publish: (orders: readonly OrderStatusView[]) => Promise<void>
  /** The orders the sweeper looks after: unpaid past their window, and follow-ups left unfinished. */
  readonly unpaid: {
    cancelExpired(limit: number): Promise<OrderStatusView[]>
    takePendingEffects(olderThanMs: number, limit: number): Promise<OrderStatusView[]>
  }
  /** What follows a committed status change (a cancellation, a follow-up). */
  readonly effects: OrderEffectsDeps
  readonly sweep: SweepSettings
  readonly log: Pick<Log, 'warn' | 'error'>
}
