/**
 *   POST /orders        {sku, qty} + Idempotency-Key → 202 {orderId, status: "pending", statusUrl} + Location
 *   GET  /orders/:id    the buyer's own order (404 for anyone else's)
 * HTTP only: schema → one use case → reply. Errors are problem+json with ORDER_ERR_* codes (src/errors.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { IDEMPOTENCY_KEY, Order, OrderAccepted, OrderParams, PlaceOrderBody } from '../contract.ts'
import { getOrder } from '../domain/get-order.ts'
import { placeOrder, type PlaceOrderResult } from '../domain/place-order.ts'
import type { GateRefusal, OrderContext } from '../domain/ports.ts'
import {
  IdempotencyKeyMissing,
  IdempotencyKeyReused,
  IdempotencyUnavailable,
  LimitReached,
  OrderNotFound,
  QueueUnavailable,
  RequestInProgress,
  SaleClosed,
  SaleNotOpen,
  SalePaused,
  SoldOut,
  StockGateUnavailable,
  UnknownSale,
} from '../errors.ts'

const tags = ['order']
const SCHEMAS = {
  place: {
    summary: 'Places an order for units of the current sale of a SKU',
    description:
      'Needs an `Idempotency-Key` header (1-128 characters of [A-Za-z0-9_.:-]): a repeat with the same key and body gets the first answer again ' +
      '(with `idempotent-replayed: true`), with another body a 422. The order is accepted once its units are reserved and it is in the queue; ' +
      'the worker persists it moments later (poll `statusUrl`).',
    tags,
    body: PlaceOrderBody,
    response: {
      202: {
        ...jsonResponse('Accepted: reserved and queued (or the replay of that answer)', OrderAccepted),
        headers: {
          location: { type: 'string', description: 'the status URL, /orders/{orderId}' },
          'idempotent-replayed': { type: 'string', enum: ['true'], description: 'present when this is the stored answer of an earlier request with the key' },
        },
      },
      ...problemResponses({
        400: 'The request is not valid (VALIDATION_FAILED), or the Idempotency-Key header is missing or malformed (ORDER_ERR_IDEMPOTENCY_KEY_MISSING)',
        401: 'No valid bearer token',
        404: 'The SKU has no current sale, or the sale is unknown (ORDER_ERR_UNKNOWN_SALE)',
        409:
          'Refused by the stock gate: sold out, per-buyer limit reached, sale not open, closed or paused (with saleId; replayed for a repeat); ' +
          'or a request with this Idempotency-Key is still being processed (ORDER_ERR_REQUEST_IN_PROGRESS)',
        413: 'The body is over 1 KiB',
        422: 'This Idempotency-Key was used for a different request (ORDER_ERR_IDEMPOTENCY_KEY_REUSED)',
        503: 'Nothing was reserved: the stock gate, the queue or the Idempotency-Key store is unavailable (ORDER_ERR_STOCK_GATE_UNAVAILABLE, ORDER_ERR_QUEUE_UNAVAILABLE, ORDER_ERR_IDEMPOTENCY_UNAVAILABLE)',
      }),
    },
  },
  get: {
    summary: "The buyer's own order and its status",
    tags,
    params: OrderParams,
    response: {
      200: jsonResponse('The order', Order),
      ...problemResponses({
        401: 'No valid bearer token',
        404: "No such order, or another buyer's (ORDER_ERR_NOT_FOUND)",
        503: 'The database is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)',
      }),
    },
  },
}

const REFUSAL_ERRORS: Readonly<Record<GateRefusal, new (saleId: string) => Error>> = {
  sold_out: SoldOut,
  limit_reached: LimitReached,
  not_open: SaleNotOpen,
  closed: SaleClosed,
  paused: SalePaused,
  unknown_sale: UnknownSale,
}

export interface OrderRoutesOptions {
  readonly ctx: OrderContext
  /** Told every placement's outcome (order_placements_total). */
  readonly placed?: (result: PlaceOrderResult) => void
}

export async function orderRoutes(app: FastifyInstance, { ctx, placed }: OrderRoutesOptions): Promise<void> {
  app.post<{ Body: PlaceOrderBody }>('/orders', { onRequest: app.requireUser, bodyLimit: 1024, schema: SCHEMAS.place }, async (request, reply) => {
    const key = request.headers['idempotency-key']
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) throw new IdempotencyKeyMissing()
    const user = request.user!
    const bearerToken = request.headers.authorization!.slice('Bearer '.length)
    const result = await placeOrder({ ...ctx, log: request.log }, { userId: user.userId, bearerToken, idempotencyKey: key, ...request.body })
    placed?.(result)
    return answer(reply, result)
  })

  app.get<{ Params: OrderParams }>('/orders/:id', { onRequest: app.requireUser, schema: SCHEMAS.get }, async (request) => {
    const order = await getOrder({ ...ctx, log: request.log }, request.params.id, request.user!.userId)
    if (!order) throw new OrderNotFound(request.params.id)
    const { userId: _owner, ...view } = order
    return view satisfies Static<typeof Order>
  })
}

function answer(reply: FastifyReply, result: PlaceOrderResult) {
  switch (result.kind) {
    case 'accepted': {
      const statusUrl = `/orders/${result.orderId}`
      if (result.replayed) reply.header('idempotent-replayed', 'true')
      return reply
        .code(202)
        .header('location', statusUrl)
        .send({ orderId: result.orderId, status: 'pending', statusUrl } satisfies Static<typeof OrderAccepted>)
    }
    case 'refused': {
      if (result.replayed) reply.header('idempotent-replayed', 'true')
      // saleId as a member too, so a client (or the gateway's sold-out edge) need not parse the title.
      throw Object.assign(new REFUSAL_ERRORS[result.reason](result.saleId), { details: { saleId: result.saleId } })
    }
    case 'no_sale':
      throw new UnknownSale(`for SKU ${result.sku}`)
    case 'key_reused':
      throw new IdempotencyKeyReused()
    case 'in_progress':
      throw new RequestInProgress()
    case 'gate_unavailable':
      throw Object.assign(new StockGateUnavailable(), { retryAfterSeconds: result.retryAfterSeconds })
    case 'queue_unavailable':
      throw new QueueUnavailable()
    case 'idempotency_unavailable':
      throw new IdempotencyUnavailable()
  }
}
