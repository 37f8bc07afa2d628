/**
 * The order service's contract (the order API): what every route takes (params, query, body, the
 * Idempotency-Key header) and answers (the success bodies, written by Fastify's serializer from these
 * schemas, so a field that is not listed here is not sent), and the problem codes it answers with
 * (ERROR_CODES; every error is RFC 9457 problem+json, see @flashsale/service-defaults). The routes
 * (src/routes/) build their `schema` from these with the shared `jsonResponse`/`problemResponses`, and the
 * OpenAPI document is generated from the same schemas.
 *
 * TypeBox → JSON Schema. Requests are validated by Fastify's Ajv; success answers list every field
 * (`additionalProperties: false`).
 *
 * Routes:
 *   POST /orders                       → 202 OrderAccepted + Location  (400, 401, 404, 409, 413, 422, 503)
 *   GET  /orders/:id                   → 200 Order                     (400, 401, 404, 503)
 *   POST /orders/:id/pay               → 200 Payment                   (400, 401, 404, 409, 413, 503)
 *   GET  /users/me/orders              → 200 OrderHistory              (400, 401, 503)
 *   GET  /admin/dlq                    → 200 DeadLetterList            (400, 401, 403, 503)
 *   GET  /admin/dlq/:partition/:offset → 200 DeadLetter                (400, 401, 403, 404, 503)
 *   POST /admin/dlq/replay             → 200 DeadLettersReplayed       (400, 401, 403, 404, 413, 503)
 *   POST /admin/dlq/discard            → 200 DeadLettersDiscarded      (400, 401, 403, 404, 413, 503)
 */
import { AUTH_ERROR_CODES } from '@flashsale/auth'
import { FAULT_ERROR_CODES } from '@flashsale/faults'
import { SHARED_ERROR_CODES, errorCodesOf } from '@flashsale/service-defaults'
import * as errors from './errors.ts'
import Type, { type Static } from 'typebox'

/** The service's OpenAPI document: its title and description (the routes come from the code). */
export const OPENAPI_INFO = {
  title: 'Flash sale: order service',
  description:
    "Placing orders (reserved at the stock gate, queued in Kafka, answered 202), reading and paying them, the buyer's order history, and the dead-letter tooling. Errors are RFC 9457 problem+json with a stable `code` (503 with Retry-After when nothing could be reserved or queued).",
}

// ---------------------------------------------------------------------------------------------- requests

/** The most units one order may ask for; a sale's per-buyer limit is usually lower and enforced by the gate. */
export const MAX_QTY = 10
/** The largest page of GET /users/me/orders. */
export const MAX_PAGE = 100
/** The Idempotency-Key header of POST /orders (checked by the handler: ORDER_ERR_IDEMPOTENCY_KEY_MISSING). */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/

export const PlaceOrderBody = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    qty: Type.Integer({ minimum: 1, maximum: MAX_QTY }),
  },
  { additionalProperties: false },
)
export type PlaceOrderBody = Static<typeof PlaceOrderBody>

/** GET /orders/:id, POST /orders/:id/pay. */
export const OrderParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
export type OrderParams = Static<typeof OrderParams>

export const HistoryQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)
export type HistoryQuery = Static<typeof HistoryQuery>

export const DeadLetterListQuery = Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
export type DeadLetterListQuery = Static<typeof DeadLetterListQuery>

export const DeadLetterParams = Type.Object(
  { partition: Type.Integer({ minimum: 0, maximum: 99_999 }), offset: Type.String({ pattern: '^[0-9]{1,19}$' }) },
  { additionalProperties: false },
)
export type DeadLetterParams = Static<typeof DeadLetterParams>

/** {partition, offset} names one dead letter, {all: true} every unhandled one; anything else is a 400. */
export const DeadLetterTargetBody = Type.Object(
  {
    partition: Type.Optional(Type.Integer({ minimum: 0, maximum: 99_999 })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
    all: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
)
export type DeadLetterTargetBody = Static<typeof DeadLetterTargetBody>

// --------------------------------------------------------------------------------------------- answers

/**
 * A string that is one of `values`. A plain `enum` (not a union of literals): the serializer writes it as a
 * string without validating it on every answer, and the OpenAPI document still lists the values.
 */
const OneOf = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: values, ...(description ? { description } : {}) })
const Timestamp = (description: string) => Type.String({ format: 'date-time', description })

/** POST /orders (202): the order is in the queue; its outcome is read at `statusUrl`. A replay for the same Idempotency-Key is the same answer. */
export const OrderAccepted = Type.Object(
  {
    orderId: Type.String({ format: 'uuid', description: 'UUIDv7, made by this service' }),
    status: Type.Literal('pending'),
    statusUrl: Type.String({ description: '/orders/{orderId}: poll it for the outcome' }),
  },
  { additionalProperties: false, title: 'OrderAccepted' },
)

const orderFields = {
  orderId: Type.String({ format: 'uuid' }),
  saleId: Type.String(),
  sku: Type.String(),
  qty: Type.Integer({ minimum: 1 }),
  status: OneOf(
    ['pending', 'confirmed', 'rejected', 'paid', 'cancelled'],
    'pending: accepted, still in the queue; confirmed: persisted with its units, awaiting payment; rejected: not persisted (see reason); paid; cancelled (see reason)',
  ),
  reason: Type.Optional(Type.String({ description: 'why the order was rejected or cancelled (e.g. sold_out, reservation_expired, payment_timeout)' })),
  reservationExpiresAt: Timestamp('the payment window closes (ISO 8601, ms)'),
  requestedAt: Timestamp('when POST /orders accepted it (ISO 8601, ms)'),
}

/** GET /orders/:id: the buyer's own order (domain/ports.ts OrderStatusView, without the buyer's id). */
export const Order = Type.Object(orderFields, { additionalProperties: false, title: 'Order' })

/** GET /users/me/orders: newest first, keyset-paged. */
export const OrderHistory = Type.Object(
  {
    orders: Type.Array(
      Type.Object(
        { ...orderFields, createdAt: Timestamp('when the worker persisted it (ISO 8601, microseconds, UTC)') },
        { additionalProperties: false, title: 'OrderHistoryEntry' },
      ),
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as ?cursor= for the next page; null on the last page' }),
  },
  { additionalProperties: false, title: 'OrderHistory' },
)

/** POST /orders/:id/pay: the same answer on every repeat. */
export const Payment = Type.Object(
  {
    orderId: Type.String({ format: 'uuid' }),
    status: Type.Literal('paid'),
    paymentReference: Type.String({ description: 'the (simulated) payment provider reference' }),
    paidAt: Timestamp('ISO 8601, ms'),
  },
  { additionalProperties: false, title: 'Payment' },
)

/** A dead letter of orders.requested (domain/dead-letters.ts DeadLetterEntry). */
export const DeadLetter = Type.Object(
  {
    id: Type.String({ description: 'partition:offset in the DLQ topic' }),
    partition: Type.Integer(),
    offset: Type.String({ description: '64-bit offset, as a decimal string' }),
    key: Type.Union([Type.String(), Type.Null()]),
    value: Type.String({ description: 'the message value, as UTF-8 text' }),
    originalHeaders: Type.Record(Type.String(), Type.String(), { description: 'the message headers without the dlq-* ones: what a replay sends' }),
    errorClass: Type.String({ description: "'unknown' when the message has no dlq-* headers" }),
    errorMessage: Type.String(),
    attempts: Type.Integer({ minimum: 0, description: '0 when the message has no dlq-* headers' }),
    firstFailureAt: Type.String({ description: "ISO 8601 time of the first failed attempt; '' when the message has no dlq-* headers" }),
    lastFailureAt: Type.String({ description: "ISO 8601 time of the last failed attempt; '' when the message has no dlq-* headers" }),
    origin: Type.Object(
      { topic: Type.String(), partition: Type.Integer(), offset: Type.String() },
      { additionalProperties: false, description: "where it failed; topic '', partition -1, offset '' when the message has no dlq-* headers" },
    ),
    deadLetteredAt: Timestamp('when it was written to the DLQ (ISO 8601, ms)'),
    handled: Type.Optional(
      Type.Object(
        {
          action: OneOf(['replayed', 'discarded']),
          actor: Type.String({ description: 'who: api:<userId> or the CLI user' }),
          times: Type.Integer({ minimum: 1 }),
          handledAt: Timestamp('the last time (ISO 8601, ms)'),
        },
        { additionalProperties: false, description: 'what an operator did with it; absent while unhandled' },
      ),
    ),
  },
  { additionalProperties: false, title: 'DeadLetter' },
)

/** GET /admin/dlq. */
export const DeadLetterList = Type.Object(
  {
    topic: Type.String(),
    depth: Type.Integer({ minimum: 0, description: 'dead letters not yet handled' }),
    entries: Type.Array(DeadLetter, { description: 'unhandled ones, in DLQ order (all=true: handled ones too)' }),
  },
  { additionalProperties: false, title: 'DeadLetterList' },
)

const entryIds = (description: string) => Type.Array(Type.String({ description: 'partition:offset' }), { description })

/** POST /admin/dlq/replay. */
export const DeadLettersReplayed = Type.Object(
  { replayed: entryIds('the dead letters re-produced to orders.requested, in DLQ order') },
  { additionalProperties: false, title: 'DeadLettersReplayed' },
)

/** POST /admin/dlq/discard. */
export const DeadLettersDiscarded = Type.Object(
  { discarded: entryIds('the dead letters recorded as discarded, in DLQ order') },
  { additionalProperties: false, title: 'DeadLettersDiscarded' },
)

// ------------------------------------------------------------------------------------------------ errors

/**
 * Every `code` of a problem this service answers: its own (every error src/errors.ts defines), those of the
 * shared layers (@flashsale/service-defaults: a request that fails its schema, text that cannot be stored, a
 * datastore outage; @flashsale/auth's 401/403; @flashsale/faults': a drill's injected error, /admin/faults
 * without Redis). HTTP-level answers that carry `type: about:blank` (NOT_FOUND for an unknown route, FST_*
 * such as 413 body too large, INTERNAL) are not service codes and are not listed.
 */
export const ERROR_CODES = [...errorCodesOf(errors), ...SHARED_ERROR_CODES, ...AUTH_ERROR_CODES, ...FAULT_ERROR_CODES] as const
