/**
 * Event contracts, in one place (the OpenTelemetry demo keeps its one proto the same way): each event's
 * type name, version and JSON schema. Producers build events with these types; consumers validate with
 * `parseEvent`, and anything that fails goes to the DLQ as non-retryable (a retry cannot fix a bad payload).
 * Changing an event: add optional fields freely; anything else is a new version (`v: 2`) that consumers
 * learn before producers send it.
 */
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Type, { type Static, type TSchema } from 'typebox'

/** Headers every event carries, so consumers can route and filter without parsing the body. */
export const EVENT_HEADERS = { type: 'event-type', version: 'event-version' } as const

const OrderId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w-]+$' })
const UserId = Type.String({ minLength: 1, maxLength: 64 })

/** `orders.requested`: the order API accepted an order (answered 202) after the stock gate reserved it. */
export const OrderRequestedV1 = Type.Object(
  {
    type: Type.Literal('order.requested'),
    v: Type.Literal(1),
    orderId: OrderId,
    userId: UserId,
    saleId: Type.String({ minLength: 1, maxLength: 64 }),
    sku: Type.String({ minLength: 1, maxLength: 64 }),
    qty: Type.Integer({ minimum: 1, maximum: 100 }),
    idempotencyKey: Type.String({ minLength: 1, maxLength: 128 }),
    /** When the reservation lapses unless paid (ISO-8601). */
    reservationExpiresAt: Type.String({ format: 'date-time' }),
    requestedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: true },
)
export type OrderRequested = Static<typeof OrderRequestedV1>

export const ORDER_STATUSES = ['confirmed', 'rejected', 'paid', 'cancelled'] as const
export type OrderStatus = (typeof ORDER_STATUSES)[number]

/** `orders.events`: an order reached a status. Read models (e.g. review's verified buyers) consume these. */
export const OrderStatusChangedV1 = Type.Object(
  {
    type: Type.Literal('order.status-changed'),
    v: Type.Literal(1),
    orderId: OrderId,
    userId: UserId,
    saleId: Type.String({ minLength: 1, maxLength: 64 }),
    sku: Type.String({ minLength: 1, maxLength: 64 }),
    qty: Type.Integer({ minimum: 1 }),
    status: Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s))),
    /** Why, for rejected and cancelled (e.g. "sold_out", "payment_timeout"). */
    reason: Type.Optional(Type.String({ maxLength: 200 })),
    occurredAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: true },
)
export type OrderStatusChanged = Static<typeof OrderStatusChangedV1>

const ajv = new Ajv({ allErrors: true, strict: false })
addFormats.default(ajv)

export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidEventError'
  }
}

/** Parses and validates a message value against a contract; throws InvalidEventError naming the problem. */
export function parseEvent<S extends TSchema>(schema: S, value: Buffer | string): Static<S> {
  let data: unknown
  try {
    data = JSON.parse(value.toString())
  } catch (err) {
    throw new InvalidEventError(`not JSON: ${(err as Error).message}`)
  }
  const validate = ajv.compile(schema)
  if (!validate(data)) {
    throw new InvalidEventError(
      `does not match ${String((schema as { properties?: { type?: { const?: string } } }).properties?.type?.const ?? 'the contract')}: ${ajv.errorsText(validate.errors)}`,
    )
  }
  return data as Static<S>
}

/** Message headers for an event. */
export function eventHeaders(event: { type: string; v: number }): Record<string, string> {
  return { [EVENT_HEADERS.type]: event.type, [EVENT_HEADERS.version]: String(event.v) }
}
