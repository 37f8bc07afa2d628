/**
 * What the use cases need from the outside, as interfaces: the Postgres side (src/store/sale-store.ts),
 * the Redis gate (src/store/gate-store.ts), metrics (src/metrics.ts) and the clock; and the context that
 * carries them (InventoryContext, made once by app.ts and handed to every route; docs/adr/0038). The domain
 * imports no I/O library; tests and app.ts wire the real ones in.
 */
import type { Log } from '@flashsale/logging'
import type { HotSaleLimiter } from './hot-sale-limiter.ts'
import type { AdvanceResult, AdvanceTarget, ReleaseResult, Reservation } from './reservation.ts'
import type { NewSale, Sale, SaleChanges, SaleState, StockLedger } from './sale.ts'
import type { SoldOutCache } from './sold-out-cache.ts'

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

export interface SaleRepository {
  /** Inserts the sale and its stock ledger row (sold 0); throws SaleAlreadyExists for a taken id. */
  create(sale: NewSale): Promise<Sale>
  /** From the primary: administration and the reconciler need the latest. */
  get(id: string): Promise<Sale | null>
  /** From a replica (may lag by up to the replica lag bound): public reads. */
  readSale(id: string): Promise<Sale | null>
  /** Sales of a SKU, newest window first, from a replica. */
  listBySku(sku: string, limit: number): Promise<Sale[]>
  /** Whether a sale exists; may be answered from a short in-process cache (the gate's missing-state path). */
  exists(id: string): Promise<boolean>
  /**
   * Applies `changes` in one transaction; `beforeCommit(before, after)` runs inside it after the update,
   * and a throw from it rolls everything back. Returns null when there is no such sale.
   */
  update(id: string, changes: SaleChanges, beforeCommit?: (before: Sale, after: Sale) => Promise<void>): Promise<Sale | null>
  /** Compare-and-set of the state; null when the sale is not in one of `from`. */
  setState(id: string, from: readonly SaleState[], to: SaleState): Promise<Sale | null>
  /** Sales the reconciler looks after: every sale not closed. */
  listOpen(): Promise<Sale[]>
  stock(id: string): Promise<StockLedger | null>
  /** inventory.user_units of the sale: units of persisted orders per buyer (when the worker records them). */
  userUnits(id: string): Promise<ReadonlyMap<string, number>>
}

export class SaleAlreadyExists extends Error {
  constructor(id: string) {
    super(`sale ${id} exists`)
    this.name = 'SaleAlreadyExists'
  }
}

export class TotalBelowSold extends Error {
  constructor(id: string) {
    super(`sale ${id}: total below sold`)
    this.name = 'TotalBelowSold'
  }
}

export type GateState = 'ready' | 'rebuilding' | 'missing'

export type GateReserveReply =
  | { readonly outcome: 'reserved' | 'duplicate'; readonly reservation: Reservation; readonly available?: number }
  | { readonly outcome: 'limit_reached'; readonly held: number; readonly limit: number }
  | { readonly outcome: 'sold_out'; readonly available: number }
  | { readonly outcome: 'not_open' | 'closed' | 'paused' | 'conflict' | 'missing' | 'rebuilding' }
  /** Reserved on the master, but no replica confirmed it in time: given back, and refused (store/gate-store.ts). */
  | { readonly outcome: 'unreplicated' }

/** What Redis holds about a sale: enough to answer GET /sales/:id without Postgres. */
export interface GateView {
  readonly state: GateState
  /** Present when the state is not missing. */
  readonly sale?: Omit<Sale, 'createdAt' | 'updatedAt'>
  readonly available?: number
  readonly uncommitted?: number
  readonly committed?: number
}

export interface LoadInput {
  readonly sale: Sale
  readonly ledger: StockLedger
  readonly userUnits: ReadonlyMap<string, number>
  /** '' for the first load at creation; else the token begin-rebuild was given. */
  readonly token: string
  readonly seqA: number
  readonly now: number
}

export type LoadResult =
  | { readonly status: 'loaded'; readonly available: number; readonly uncommitted: number; readonly committed: number; readonly late: number }
  | { readonly status: 'superseded' | 'rebuilding' }

export interface ReconcileInput {
  readonly saleId: string
  readonly seqA: number
  readonly now: number
  readonly ledger: StockLedger
  readonly quietMs: number
  readonly repair: boolean
}

export type ReconcileReply =
  | {
      readonly status: 'ok'
      readonly available: number
      readonly expected: number
      readonly drift: number
      readonly uncommitted: number
      readonly committed: number
      readonly late: number
      readonly repaired: boolean
    }
  | { readonly status: 'missing' | 'rebuilding' }

/** The Redis stock gate. Every method is one atomic script on the sale's keys (plus an order-id lookup). */
export interface StockGate {
  reserve(input: { saleId: string; orderId: string; userId: string; qty: number; now: number }): Promise<GateReserveReply>
  /** `ownerUserId` undefined: an admin/service caller. */
  release(input: { orderId: string; ownerUserId?: string; now: number; onlyIn?: string }): Promise<ReleaseResult>
  advance(orderIds: readonly string[], target: AdvanceTarget, now: number): Promise<AdvanceResult[]>
  getReservation(orderId: string): Promise<Reservation | null>
  view(saleId: string): Promise<GateView>
  /** Copies the sale's definition into the gate; 'missing' when its state is gone (needs a rebuild). */
  refresh(sale: Sale, now: number): Promise<GateState>
  adjust(saleId: string, delta: number, total: number, now: number): Promise<{ status: 'ok' | 'below_taken' | 'missing'; available?: number }>
  seq(saleId: string): Promise<number>
  beginRebuild(
    saleId: string,
    token: string,
    now: number,
    staleMs: number,
    force: boolean,
  ): Promise<{ status: 'begun'; seq: number } | { status: 'in_progress' }>
  abortRebuild(saleId: string, token: string): Promise<void>
  load(input: LoadInput): Promise<LoadResult>
  reconcile(input: ReconcileInput): Promise<ReconcileReply>
  /** Releases expired, never-claimed reservations; returns what it released. */
  expire(saleId: string, now: number, max: number): Promise<{ orderId: string; qty: number }[]>
}

/** The service's own metrics, as the use cases report them. */
export interface InventoryMetrics {
  gateOutcome(outcome: string): void
  hotSaleThrottled(saleId: string): void
  soldOutShortCircuit(saleId: string): void
  stockObserved(saleId: string, observation: { available: number; drift: number; uncommitted: number; committed: number; ledger: StockLedger }): void
  driftRepaired(saleId: string): void
  rebuilt(saleId: string): void
  redisServerChanged(): void
  reservationsExpired(saleId: string, count: number): void
  reconcileFailed(saleId: string): void
  forgetSale(saleId: string): void
}

export interface InventorySettings {
  /** The reconciler repairs drift only after this long without gate activity (or while paused). */
  readonly quietMs: number
  /** A rebuild older than this is taken over (its process died). */
  readonly rebuildStaleMs: number
  /** Most expired reservations released per sale per reconciler pass. */
  readonly expireBatch: number
}

/** Everything a use case may use, made once by app.ts (or a test) and passed in. */
export interface InventoryContext {
  readonly sales: SaleRepository
  readonly gate: StockGate
  readonly limiter: HotSaleLimiter
  readonly soldOut: SoldOutCache
  readonly metrics: InventoryMetrics
  readonly clock: Clock
  readonly settings: InventorySettings
  readonly log: Log
}
