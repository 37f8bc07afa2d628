/**
 * A sale: a number of units of one SKU, sold in a time window, at most `perUserLimit` per buyer.
 * Its stored `state` is what an admin (or the reconciler, at the window's edges) set; whether the gate is
 * open right now also depends on the clock — see `gateStatus`.
 */
export type SaleState = 'scheduled' | 'active' | 'paused' | 'closed'

export interface Sale {
  readonly id: string
  readonly sku: string
  readonly title: string
  readonly totalUnits: number
  readonly perUserLimit: number
  readonly startsAt: Date
  readonly endsAt: Date
  readonly reservationTtlSeconds: number
  readonly state: SaleState
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface NewSale {
  readonly id: string
  readonly sku: string
  readonly title: string
  readonly totalUnits: number
  readonly perUserLimit: number
  readonly startsAt: Date
  readonly endsAt: Date
  readonly reservationTtlSeconds: number
}

export type SaleChanges = Partial<Pick<NewSale, 'title' | 'totalUnits' | 'perUserLimit' | 'startsAt' | 'endsAt' | 'reservationTtlSeconds'>>

/** The stock ledger row: `sold` counts units of persisted, non-cancelled orders. */
export interface StockLedger {
  readonly total: number
  readonly sold: number
}

export const DEFAULT_RESERVATION_TTL_SECONDS = 600

/** What the gate answers about a sale at `now`, before looking at stock or the buyer (same rule as reserve.lua). */
export type GateStatus = 'open' | 'not_open' | 'closed' | 'paused'

export function gateStatus(sale: Pick<Sale, 'state' | 'startsAt' | 'endsAt'>, now: number): GateStatus {
  if (sale.state === 'paused') return 'paused'
  if (sale.state === 'closed') return 'closed'
  if (now < sale.startsAt.getTime()) return 'not_open'
  if (now >= sale.endsAt.getTime()) return 'closed'
  return 'open'
}

/**
 * The state the reconciler moves a sale to as its window passes: scheduled → active at the start,
 * scheduled/active → closed at the end. Paused and closed sales stay as they are.
 */
export function stateForTime(sale: Pick<Sale, 'state' | 'startsAt' | 'endsAt'>, now: number): SaleState {
  if (sale.state === 'paused' || sale.state === 'closed') return sale.state
  if (now >= sale.endsAt.getTime()) return 'closed'
  if (now >= sale.startsAt.getTime()) return 'active'
  return 'scheduled'
}

/** The window is valid when it ends after it starts; returns the problem, or undefined. */
export function windowProblem(startsAt: Date, endsAt: Date): string | undefined {
  if (Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime())) return 'startsAt and endsAt must be dates'
  if (endsAt.getTime() <= startsAt.getTime()) return `endsAt ${endsAt.toISOString()} is not after startsAt ${startsAt.toISOString()}`
  return undefined
}
