/**
 * Reservations, for buyers (their own only) and the order service:
 *   POST   /reservations            reserve through the gate (buyer = the token's user, never the body)
 *   GET    /reservations/:orderId   a reservation, for its buyer or an admin
 *   DELETE /reservations/:orderId   release: the buyer their own unclaimed one, an admin any; {released: units}
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { OrderIdParams, ReservationFound, ReservationReleased, ReserveAnswer, ReserveBody, reservationJson } from '../contract.ts'
import type { InventoryContext } from '../domain/ports.ts'
import { findReservation, releaseReservation, type Caller } from '../domain/manage-reservations.ts'
import type { ReserveResult } from '../domain/reservation.ts'
import { reserveStock } from '../domain/reserve-stock.ts'
import {
  Closed,
  GateUnavailable,
  HotSaleThrottled,
  LimitReached,
  NotOpen,
  NotReservationOwner,
  OrderIdConflict,
  Paused,
  ReservationPersisted,
  SoldOut,
  UnknownReservation,
  UnknownSale,
} from '../errors.ts'

export interface ReservationRoutesOptions {
  readonly ctx: InventoryContext
}

const tags = ['inventory']
const GATE_DOWN =
  'The stock gate cannot answer (INVENTORY_ERR_GATE_UNAVAILABLE: Redis unreachable, its state lost or being rebuilt), or a datastore is unavailable; nothing was changed'
const SCHEMAS = {
  reserve: {
    summary: "Reserves units of a sale for one order of the token's user, through the stock gate",
    tags,
    body: ReserveBody,
    response: {
      201: jsonResponse('Reserved (outcome reserved)', ReserveAnswer),
      200: jsonResponse(
        'This order id was reserved before by the same buyer (outcome duplicate): the original reservation, in whatever state it is now',
        ReserveAnswer,
      ),
      ...problemResponses({
        401: 'No valid bearer token',
        404: 'No such sale (INVENTORY_ERR_UNKNOWN_SALE)',
        409: 'Refused by the gate: sold out, per-user limit reached, not open, closed, paused, or the order id belongs to another reservation (the problem carries `outcome` and `saleId`)',
        413: 'The body is over 1 KiB',
        429: 'Too many reservations for this sale right now (INVENTORY_ERR_HOT_SALE_THROTTLED)',
        503: GATE_DOWN,
      }),
    },
  },
  get: {
    summary: 'A reservation, for its buyer or an admin',
    tags,
    params: OrderIdParams,
    response: {
      200: jsonResponse('The reservation', ReservationFound),
      ...problemResponses({
        401: 'No valid bearer token',
        404: "No reservation for this order id, or another buyer's (INVENTORY_ERR_UNKNOWN_RESERVATION)",
        503: GATE_DOWN,
      }),
    },
  },
  release: {
    summary: 'Gives a reservation back: a buyer their own while it is still reserved, an admin any',
    tags,
    params: OrderIdParams,
    response: {
      200: jsonResponse('Released now, or nothing to give back (released 0): idempotent', ReservationReleased),
      ...problemResponses({
        401: 'No valid bearer token',
        403: "Another buyer's reservation (INVENTORY_ERR_NOT_RESERVATION_OWNER)",
        409: 'A buyer cannot release it any more: the order worker claimed it (INVENTORY_ERR_RESERVATION_PERSISTED, with `state`)',
        503: GATE_DOWN,
      }),
    },
  },
}

export function callerOf(request: FastifyRequest): Caller {
  const user = request.user
  if (!user) throw new Error('route without requireUser')
  return { userId: user.userId, admin: user.roles.includes('admin') }
}

function refusal(result: Exclude<ReserveResult, { outcome: 'reserved' | 'duplicate' }>, saleId: string) {
  const details: Record<string, unknown> = { outcome: result.outcome, saleId }
  let err
  switch (result.outcome) {
    case 'sold_out':
      err = new SoldOut(saleId)
      break
    case 'limit_reached':
      err = new LimitReached(saleId)
      details['limit'] = result.limit
      details['held'] = result.held
      break
    case 'not_open':
      err = new NotOpen(saleId)
      break
    case 'closed':
      err = new Closed(saleId)
      break
    case 'paused':
      err = new Paused(saleId)
      break
    case 'unknown_sale':
      err = new UnknownSale(saleId)
      break
    case 'conflict':
      err = new OrderIdConflict(saleId)
      break
    case 'throttled':
      err = new HotSaleThrottled(saleId)
      err.retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
      break
    case 'unavailable':
      err = new GateUnavailable(`sale ${saleId}`)
      details['reason'] = result.reason
      break
  }
  err.details = details
  return err
}

export async function reservationRoutes(app: FastifyInstance, { ctx }: ReservationRoutesOptions): Promise<void> {
  app.post<{ Body: ReserveBody }>(
    '/reservations',
    // 1 KiB is plenty for three short fields; anything bigger is refused before it is parsed.
    { onRequest: app.requireUser, bodyLimit: 1024, schema: SCHEMAS.reserve },
    async (request, reply) => {
      const { saleId, orderId, qty } = request.body
      const result = await reserveStock(ctx, { saleId, orderId, qty, userId: callerOf(request).userId })
      if (result.outcome === 'reserved' || result.outcome === 'duplicate') {
        return reply
          .code(result.outcome === 'reserved' ? 201 : 200)
          .send({ outcome: result.outcome, reservation: reservationJson(result.reservation) } satisfies Static<typeof ReserveAnswer>)
      }
      throw refusal(result, saleId)
    },
  )

  app.get<{ Params: OrderIdParams }>('/reservations/:orderId', { onRequest: app.requireUser, schema: SCHEMAS.get }, async (request) => {
    const { orderId } = request.params
    const reservation = await findReservation(ctx, orderId, callerOf(request)).catch((err: unknown) => {
      request.log.warn({ err, orderId }, 'gate unreadable')
      throw new GateUnavailable(`order ${orderId}`)
    })
    if (!reservation) throw new UnknownReservation(orderId)
    return { reservation: reservationJson(reservation) } satisfies Static<typeof ReservationFound>
  })

  app.delete<{ Params: OrderIdParams }>('/reservations/:orderId', { onRequest: app.requireUser, schema: SCHEMAS.release }, async (request) => {
    const { orderId } = request.params
    const result = await releaseReservation(ctx, orderId, callerOf(request)).catch((err: unknown) => {
      request.log.warn({ err, orderId }, 'gate unreachable; nothing released')
      throw new GateUnavailable(`order ${orderId}`)
    })
    switch (result.outcome) {
      case 'forbidden':
        throw new NotReservationOwner(orderId)
      case 'persisted':
        throw Object.assign(new ReservationPersisted(orderId), { details: { state: result.stateBefore } })
      case 'missing':
        throw new GateUnavailable(`order ${orderId}`)
      default:
        // released: units given back now; not_found / already: nothing to give back (0), idempotently.
        return { orderId, released: result.units, outcome: result.outcome } satisfies Static<typeof ReservationReleased>
    }
  })
}
