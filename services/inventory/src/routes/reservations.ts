/**
 * Reservations, for buyers (their own only) and the order service:
 *   POST   /reservations            reserve through the gate (buyer = the token's user, never the body)
 *   GET    /reservations/:orderId   a reservation, for its buyer or an admin
 *   DELETE /reservations/:orderId   release: the buyer their own unclaimed one, an admin any; {released: units}
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { InventoryContext } from '../domain/context.ts'
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
import { OrderIdParams, ReserveBody, reservationJson } from './schemas.ts'

export interface ReservationRoutesOptions {
  readonly ctx: InventoryContext
}

/** Seconds a client should wait after a 503 from the gate: about one reconciler pass rebuilds it. */
const GATE_RETRY_AFTER_SECONDS = 1

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
      err.retryAfterSeconds = GATE_RETRY_AFTER_SECONDS
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
    { onRequest: app.requireUser, bodyLimit: 1024, schema: { body: ReserveBody } },
    async (request, reply) => {
      const { saleId, orderId, qty } = request.body
      const result = await reserveStock(ctx, { saleId, orderId, qty, userId: callerOf(request).userId })
      if (result.outcome === 'reserved' || result.outcome === 'duplicate') {
        return reply.code(result.outcome === 'reserved' ? 201 : 200).send({ outcome: result.outcome, reservation: reservationJson(result.reservation) })
      }
      throw refusal(result, saleId)
    },
  )

  app.get<{ Params: OrderIdParams }>('/reservations/:orderId', { onRequest: app.requireUser, schema: { params: OrderIdParams } }, async (request) => {
    const { orderId } = request.params
    const reservation = await findReservation(ctx, orderId, callerOf(request)).catch((err: unknown) => {
      request.log.warn({ err, orderId }, 'gate unreadable')
      throw Object.assign(new GateUnavailable(`order ${orderId}`), { retryAfterSeconds: GATE_RETRY_AFTER_SECONDS })
    })
    if (!reservation) throw new UnknownReservation(orderId)
    return { reservation: reservationJson(reservation) }
  })

  app.delete<{ Params: OrderIdParams }>('/reservations/:orderId', { onRequest: app.requireUser, schema: { params: OrderIdParams } }, async (request) => {
    const { orderId } = request.params
    const result = await releaseReservation(ctx, orderId, callerOf(request)).catch((err: unknown) => {
      request.log.warn({ err, orderId }, 'gate unreachable; nothing released')
      throw Object.assign(new GateUnavailable(`order ${orderId}`), { retryAfterSeconds: GATE_RETRY_AFTER_SECONDS })
    })
    switch (result.outcome) {
      case 'forbidden':
        throw new NotReservationOwner(orderId)
      case 'persisted':
        throw Object.assign(new ReservationPersisted(orderId), { details: { state: result.stateBefore } })
      case 'missing':
        throw Object.assign(new GateUnavailable(`order ${orderId}`), { retryAfterSeconds: GATE_RETRY_AFTER_SECONDS })
      default:
        // released: units given back now; not_found / already: nothing to give back (0), idempotently.
        return { orderId, released: result.units, outcome: result.outcome }
    }
  })
}
