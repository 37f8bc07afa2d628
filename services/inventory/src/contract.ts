/**
 * The inventory service's contract: what every route takes (params, query, body) and answers (the success
 * bodies, written by Fastify's serializer from these schemas, so a field that is not listed here is not
 * sent), and the problem codes it answers with (ERROR_CODES; every error is RFC 9457 problem+json, see
 * @flashsale/service-defaults). The routes (src/routes/) build their `schema` from these with the shared
 * `jsonResponse`/`problemResponses`, and the OpenAPI document is generated from the same schemas.
 *
 * TypeBox → JSON Schema. Requests are validated by Fastify's Ajv; success answers list every field
 * (`additionalProperties: false`). Ids end up inside Redis hash tags ({sale:<id>}, {order:<id>}), so braces
 * and separators are excluded.
 *
 * Routes:
 *   POST   /reservations                       → 201 ReserveAnswer (reserved), 200 (duplicate)  (400, 401, 404, 409, 413, 429, 503)
 *   GET    /reservations/:orderId              → 200 ReservationFound                           (400, 401, 404, 503)
 *   DELETE /reservations/:orderId              → 200 ReservationReleased                        (400, 401, 403, 409, 503)
 *   POST   /admin/reservations/claim|commit|confirm → 200 ReservationSteps                      (400, 401, 403, 503)
 *   GET    /sales/:id                          → 200 SaleStatus                                 (400, 404, 503)
 *   GET    /sales?sku=&limit=                  → 200 SaleList                                   (400, 503)
 *   POST   /admin/sales                        → 201 SaleCreated + Location                     (400, 401, 403, 409, 503)
 *   PATCH  /admin/sales/:id                    → 200 SaleChanged                                (400, 401, 403, 404, 409, 503)
 *   POST   /admin/sales/:id/pause              → 200 SalePaused                                 (400, 401, 403, 404, 409, 503)
 *   POST   /admin/sales/:id/resume             → 200 SaleResumed                                (400, 401, 403, 404, 409, 503)
 *   POST   /admin/sales/:id/rebuild?force=     → 200 GateRebuilt                                (400, 401, 403, 404, 409, 503)
 *   POST   /admin/reconcile                    → 200 ReconcileReport                            (401, 403, 503)
 *
 * Why one file: it is the service's whole HTTP contract, read as one document (the OpenAPI is generated
 *   from it, and the order and catalog clients type their calls by it).
 */
import { AUTH_ERROR_CODES } from '@flashsale/auth'
import { FAULT_ERROR_CODES } from '@flashsale/faults'
import { SHARED_ERROR_CODES, errorCodesOf } from '@flashsale/service-defaults'
import * as errors from './errors.ts'
import Type, { type Static } from 'typebox'
import type { Reservation as ReservationRecord } from './domain/reservation.ts'
import type { Sale as SaleRecord } from './domain/sale.ts'

/** The service's OpenAPI document: its title and description (the routes come from the code). */
export const OPENAPI_INFO = {
  title: 'Flash sale: inventory service',
  description:
    'Sales, the stock ledger and the atomic stock gate in front of it: reservations for buyers and the order service, public reads of sales, and sale administration. Errors are RFC 9457 problem+json with a stable `code` (503 with Retry-After while the gate cannot answer).',
}

// ---------------------------------------------------------------------------------------------- requests

export const SALE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
export const ORDER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'
/** Largest quantity one reservation may ask for, whatever the sale's per-user limit. */
export const MAX_QTY = 100

export const SaleId = Type.String({ pattern: SALE_ID_PATTERN, description: 'sale id: letters, digits, _ . -; at most 64' })
export const OrderId = Type.String({ pattern: ORDER_ID_PATTERN, description: 'order id (the order service makes it): letters, digits, _ . : -; at most 64' })

export const ReserveBody = Type.Object(
  {
    saleId: SaleId,
    orderId: OrderId,
    qty: Type.Integer({ minimum: 1, maximum: MAX_QTY }),
  },
  // No userId here, ever: the buyer is the authenticated caller. A body that names one is refused.
  { additionalProperties: false },
)
export type ReserveBody = Static<typeof ReserveBody>

export const OrderIdParams = Type.Object({ orderId: OrderId }, { additionalProperties: false })
export type OrderIdParams = Static<typeof OrderIdParams>

export const SaleIdParams = Type.Object({ id: SaleId }, { additionalProperties: false })
export type SaleIdParams = Static<typeof SaleIdParams>

export const OrderIdsBody = Type.Object({ orderIds: Type.Array(OrderId, { minItems: 1, maxItems: 500, uniqueItems: true }) }, { additionalProperties: false })
export type OrderIdsBody = Static<typeof OrderIdsBody>

const saleFields = {
  title: Type.String({ maxLength: 200 }),
  totalUnits: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
  perUserLimit: Type.Integer({ minimum: 1, maximum: 10_000 }),
  startsAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  reservationTtlSeconds: Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600 }),
}

// A SKU as the catalog and the order service take it: letters, digits, _ . - (no control character, which
// PostgreSQL's text cannot hold: GET /sales?sku=%00 answered 500, found by the API fuzzer).
const Sku = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' })

export const CreateSaleBody = Type.Object(
  {
    id: Type.Optional(SaleId),
    sku: Sku,
    title: Type.Optional(saleFields.title),
    totalUnits: saleFields.totalUnits,
    perUserLimit: saleFields.perUserLimit,
    startsAt: saleFields.startsAt,
    endsAt: saleFields.endsAt,
    reservationTtlSeconds: Type.Optional(saleFields.reservationTtlSeconds),
  },
  { additionalProperties: false },
)
export type CreateSaleBody = Static<typeof CreateSaleBody>

export const ChangeSaleBody = Type.Object(
  {
    title: Type.Optional(saleFields.title),
    totalUnits: Type.Optional(saleFields.totalUnits),
    perUserLimit: Type.Optional(saleFields.perUserLimit),
    startsAt: Type.Optional(saleFields.startsAt),
    endsAt: Type.Optional(saleFields.endsAt),
    reservationTtlSeconds: Type.Optional(saleFields.reservationTtlSeconds),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type ChangeSaleBody = Static<typeof ChangeSaleBody>

export const SalesQuery = Type.Object(
  { sku: Sku, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })) },
  { additionalProperties: false },
)
export type SalesQuery = Static<typeof SalesQuery>

export const RebuildQuery = Type.Object({ force: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false })
export type RebuildQuery = Static<typeof RebuildQuery>

// --------------------------------------------------------------------------------------------- answers

/**
 * A string that is one of `values`. A plain `enum` (not a union of literals): the serializer writes it as a
 * string without validating it on every answer, and the OpenAPI document still lists the values.
 */
const OneOf = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: values, ...(description ? { description } : {}) })
const Timestamp = (description: string) => Type.String({ format: 'date-time', description })
/** Units of stock: whole numbers (Postgres int columns, Redis INCRBY/DECRBY counters). */
const Units = (description: string) => Type.Integer({ description })

const SaleState = OneOf(['scheduled', 'active', 'paused', 'closed'], 'the stored state: what an admin set or the reconciler moved with the clock')
const ReservationState = OneOf(['reserved', 'committing', 'committed', 'confirmed', 'released', 'expired'])
/** What the gate holds for a sale (ports.ts GateState): `ready`, being rebuilt, or its state is gone. */
const GateState = OneOf(['ready', 'rebuilding', 'missing'])

/** A reservation as the gate holds it (domain/reservation.ts). */
export const Reservation = Type.Object(
  {
    orderId: Type.String(),
    saleId: Type.String(),
    userId: Type.String({ description: 'the buyer: the user of the token that reserved' }),
    qty: Type.Integer({ minimum: 1 }),
    expiresAt: Timestamp('when an unclaimed reservation expires (ISO 8601, ms)'),
    state: ReservationState,
  },
  { additionalProperties: false, title: 'Reservation' },
)

/** A sale (domain/sale.ts). */
export const Sale = Type.Object(
  {
    id: Type.String(),
    sku: Type.String(),
    title: Type.String({ description: "'' when the sale has none" }),
    totalUnits: Units('units the sale sells in all'),
    perUserLimit: Type.Integer({ description: 'most units one buyer may hold' }),
    startsAt: Timestamp('the window opens (inclusive)'),
    endsAt: Timestamp('the window closes (exclusive)'),
    reservationTtlSeconds: Type.Integer({ description: 'how long an unclaimed reservation holds its units' }),
    state: SaleState,
    createdAt: Type.Optional(Timestamp('absent when the sale was read from the gate (Redis) rather than Postgres')),
    updatedAt: Type.Optional(Timestamp('absent when the sale was read from the gate (Redis) rather than Postgres')),
  },
  { additionalProperties: false, title: 'Sale' },
)

/** POST /reservations: 201 `reserved`, or 200 `duplicate` (the same order id again: the original, whatever its state now). */
export const ReserveAnswer = Type.Object(
  { outcome: OneOf(['reserved', 'duplicate']), reservation: Reservation },
  { additionalProperties: false, title: 'ReserveAnswer' },
)

/** GET /reservations/:orderId. */
export const ReservationFound = Type.Object({ reservation: Reservation }, { additionalProperties: false, title: 'ReservationFound' })

/** DELETE /reservations/:orderId. */
export const ReservationReleased = Type.Object(
  {
    orderId: Type.String(),
    released: Units('units given back by this call: 0 when there was nothing to give back'),
    outcome: OneOf(['released', 'not_found', 'already'], 'released: given back now; not_found: no such reservation; already: released or expired before'),
  },
  { additionalProperties: false, title: 'ReservationReleased' },
)

/** POST /admin/reservations/claim|commit|confirm: one result per order id, in the order asked. */
export const ReservationSteps = Type.Object(
  {
    results: Type.Array(
      Type.Object(
        {
          orderId: Type.String(),
          outcome: OneOf(['ok', 'already', 'released', 'expired', 'not_found'], 'see the README: what the order worker does with each'),
          /** Absent when not_found. */
          reservation: Type.Optional(Reservation),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'ReservationSteps' },
)

/** GET /sales/:id. */
export const SaleStatus = Type.Object(
  {
    sale: Sale,
    status: OneOf(
      ['open', 'not_open', 'closed', 'paused', 'unavailable'],
      'whether the gate would take a reservation now; unavailable while its state is missing or rebuilding',
    ),
    approximateAvailable: Type.Union([Units('units left'), Type.Null()], {
      description: 'read from the gate without a lock while buyers reserve: a display hint, never a promise; null when the gate cannot say',
    }),
  },
  { additionalProperties: false, title: 'SaleStatus' },
)

/** GET /sales?sku=: newest window first. */
export const SaleList = Type.Object({ sales: Type.Array(Sale) }, { additionalProperties: false, title: 'SaleList' })

/** POST /admin/sales (201). */
export const SaleCreated = Type.Object(
  { sale: Sale, gate: OneOf(['ready', 'pending'], 'pending: the gate could not be warmed now; the reconciler builds it') },
  { additionalProperties: false, title: 'SaleCreated' },
)

/** PATCH /admin/sales/:id. */
export const SaleChanged = Type.Object(
  {
    sale: Sale,
    gate: OneOf(['ready', 'rebuilding', 'missing', 'pending'], 'the gate after the change; pending: it could not be told, the reconciler copies it'),
  },
  { additionalProperties: false, title: 'SaleChanged' },
)

/** POST /admin/sales/:id/pause. */
export const SalePaused = Type.Object({ sale: Sale, gate: GateState }, { additionalProperties: false, title: 'SalePaused' })

/** A rebuild's result (domain/reconcile-stock.ts RebuildResult); the counts are there when `status` is rebuilt. */
const rebuiltCounts = {
  available: Units('units the gate can hand out after the rebuild'),
  uncommitted: Units('units of surviving reservations not yet persisted'),
  committed: Units('units of surviving reservations already persisted'),
  sold: Units('stock.sold in Postgres'),
  total: Units('stock.total in Postgres'),
}

/** POST /admin/sales/:id/resume. */
export const SaleResumed = Type.Object(
  {
    sale: Sale,
    rebuild: Type.Object(
      {
        status: OneOf(['rebuilt', 'in_progress', 'superseded', 'unknown_sale', 'not_paused'], 'not_paused: the sale was not paused, nothing was done'),
        available: Type.Optional(rebuiltCounts.available),
        uncommitted: Type.Optional(rebuiltCounts.uncommitted),
        committed: Type.Optional(rebuiltCounts.committed),
        sold: Type.Optional(rebuiltCounts.sold),
        total: Type.Optional(rebuiltCounts.total),
      },
      { additionalProperties: false, description: 'the counts are present when status is rebuilt' },
    ),
  },
  { additionalProperties: false, title: 'SaleResumed' },
)

/** POST /admin/sales/:id/rebuild. */
export const GateRebuilt = Type.Object({ status: Type.Literal('rebuilt'), ...rebuiltCounts }, { additionalProperties: false, title: 'GateRebuilt' })

/** POST /admin/reconcile: one finding per sale that is not closed (domain/reconcile-stock.ts SaleReconciliation). */
export const ReconcileReport = Type.Object(
  {
    sales: Type.Array(
      Type.Object(
        {
          saleId: Type.String(),
          action: OneOf(['reconciled', 'rebuilt', 'rebuilding', 'failed']),
          state: SaleState,
          transitioned: Type.Optional(
            Type.Object({ from: SaleState, to: SaleState }, { additionalProperties: false, description: 'the clock moved the state' }),
          ),
          expired: Units('reservations released this pass because their TTL passed'),
          available: Type.Optional(Units('units the gate can hand out (after a repair, the repaired value)')),
          expected: Type.Optional(Units('what the gate should have: total − sold − units not yet persisted')),
          drift: Type.Optional(Units('available − expected, before any repair')),
          uncommitted: Type.Optional(Units('units of reservations not yet persisted')),
          committed: Type.Optional(Units('units of persisted reservations still in the gate')),
          repaired: Type.Optional(Type.Boolean()),
          error: Type.Optional(Type.String({ description: 'why the sale could not be reconciled (action failed)' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'ReconcileReport' },
)

export function reservationJson(r: ReservationRecord): Static<typeof Reservation> {
  return { orderId: r.orderId, saleId: r.saleId, userId: r.userId, qty: r.qty, expiresAt: r.expiresAt.toISOString(), state: r.state }
}

export function saleJson(s: Omit<SaleRecord, 'createdAt' | 'updatedAt'> & Partial<Pick<SaleRecord, 'createdAt' | 'updatedAt'>>): Static<typeof Sale> {
  return {
    id: s.id,
    sku: s.sku,
    title: s.title,
    totalUnits: s.totalUnits,
    perUserLimit: s.perUserLimit,
    startsAt: s.startsAt.toISOString(),
    endsAt: s.endsAt.toISOString(),
    reservationTtlSeconds: s.reservationTtlSeconds,
    state: s.state,
    ...(s.createdAt ? { createdAt: s.createdAt.toISOString() } : {}),
    ...(s.updatedAt ? { updatedAt: s.updatedAt.toISOString() } : {}),
  }
}

// ------------------------------------------------------------------------------------------------ errors

/**
 * Every `code` of a problem this service answers: its own (every error src/errors.ts defines), those of the
 * shared layers (@flashsale/service-defaults: a request that fails its schema, text that cannot be stored, a
 * datastore outage; @flashsale/auth's 401/403; @flashsale/faults': a drill's injected error, /admin/faults
 * without Redis). HTTP-level answers that carry `type: about:blank` (NOT_FOUND for an unknown route, FST_*
 * such as 413 body too large, INTERNAL) are not service codes and are not listed.
 */
export const ERROR_CODES = [...errorCodesOf(errors), ...SHARED_ERROR_CODES, ...AUTH_ERROR_CODES, ...FAULT_ERROR_CODES] as const
