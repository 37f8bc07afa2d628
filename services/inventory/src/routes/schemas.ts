/**
 * Request schemas (TypeBox → JSON Schema, validated by Fastify's Ajv) and the JSON shapes of answers.
 * Ids end up inside Redis hash tags ({sale:<id>}, {order:<id>}), so braces and separators are excluded.
 */
import Type, { type Static } from 'typebox'
import type { Reservation } from '../domain/reservation.ts'
import type { Sale } from '../domain/sale.ts'

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

export const CreateSaleBody = Type.Object(
  {
    id: Type.Optional(SaleId),
    sku: Type.String({ minLength: 1, maxLength: 64 }),
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
  { sku: Type.String({ minLength: 1, maxLength: 64 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })) },
  { additionalProperties: false },
)
export type SalesQuery = Static<typeof SalesQuery>

export const RebuildQuery = Type.Object({ force: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false })
export type RebuildQuery = Static<typeof RebuildQuery>

export function reservationJson(r: Reservation) {
  return { orderId: r.orderId, saleId: r.saleId, userId: r.userId, qty: r.qty, expiresAt: r.expiresAt.toISOString(), state: r.state }
}

export function saleJson(s: Omit<Sale, 'createdAt' | 'updatedAt'> & Partial<Pick<Sale, 'createdAt' | 'updatedAt'>>) {
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
