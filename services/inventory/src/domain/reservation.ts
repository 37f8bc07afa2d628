/**
 * A reservation: units of a sale held for one order of one buyer until the order is persisted and paid,
 * or released. Its life (ADR "reservation TTL and lifecycle"):
 *
 *   reserved ──claim──▶ committing ──commit──▶ committed ──confirm──▶ confirmed
 *      │ (TTL passes, never claimed)     │                    │
 *      ▼                                 ▼ release (admin)    ▼ release (admin: order cancelled)
 *   expired                           released             released
 *
 * A buyer may release only their own reservation while it is still `reserved`; once the order worker
 * has claimed it, its units are the order's, and only the order service (admin token) gives them back.
 */
export type ReservationState = 'reserved' | 'committing' | 'committed' | 'confirmed' | 'released' | 'expired'

export interface Reservation {
  readonly orderId: string
  readonly saleId: string
  readonly userId: string
  readonly qty: number
  readonly expiresAt: Date
  readonly state: ReservationState
}

/** The gate's typed answers (reserve.lua), plus what the service adds in front of and around it. */
export type ReserveOutcome =
  'reserved' | 'duplicate' | 'sold_out' | 'limit_reached' | 'not_open' | 'closed' | 'paused' | 'unknown_sale' | 'conflict' | 'throttled' | 'unavailable'

export type ReserveResult =
  | { readonly outcome: 'reserved'; readonly reservation: Reservation }
  | { readonly outcome: 'duplicate'; readonly reservation: Reservation }
  /** `shortCircuit`: answered from this process's memory of a recent sold_out, without Redis. */
  | { readonly outcome: 'sold_out'; readonly shortCircuit: boolean }
  | { readonly outcome: 'limit_reached'; readonly limit: number; readonly held: number }
  | { readonly outcome: 'not_open' | 'closed' | 'paused' | 'unknown_sale' | 'conflict' }
  | { readonly outcome: 'throttled'; readonly retryAfterMs: number }
  /** The gate cannot answer: Redis unreachable (`error`), its state lost (`missing`) or being rebuilt. */
  | { readonly outcome: 'unavailable'; readonly reason: 'error' | 'missing' | 'rebuilding' | 'unreplicated' }

/** What a release did; `units` is 0 unless this call gave units back. */
export type ReleaseOutcome = 'released' | 'not_found' | 'already' | 'forbidden' | 'persisted' | 'missing'

export interface ReleaseResult {
  readonly outcome: ReleaseOutcome
  readonly units: number
  readonly saleId?: string
  readonly stateBefore?: ReservationState
}

/** Steps of the order pipeline on a reservation. */
export type AdvanceTarget = 'committing' | 'committed' | 'confirmed'

/**
 * ok: moved; already: at or past the target (a redelivery); released/expired: its units were given back,
 * the order must not be persisted; not_found: Redis has no record (never reserved, or Redis lost it — the
 * worker lets Postgres decide through commit_units).
 */
export type AdvanceOutcome = 'ok' | 'already' | 'released' | 'expired' | 'not_found'

export interface AdvanceResult {
  readonly orderId: string
  readonly outcome: AdvanceOutcome
  readonly reservation?: Reservation
}
