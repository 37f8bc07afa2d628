/**
 *   POST /orders        {sku, qty} + Idempotency-Key → 202 {orderId, status: "pending", statusUrl} + Location
 *   GET  /orders/:id    the buyer's own order (404 for anyone else's)
 * HTTP only: schema → one use case → reply. Errors are problem+json with ORDER_ERR_* codes (src/errors.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import Type, { type Static } from 'typebox'
import { getOrder, type GetOrderDeps } from '../domain/get-order.ts'
import { placeOrder, type PlaceOrderDeps, type PlaceOrderResult } from '../domain/place-order.ts'
import type { GateRefusal } from '../domain/ports.ts'
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

/** The most units one order may ask for; a sale's per-buyer limit is usually lower and enforced by the gate. */
export const MAX_QTY = 10

const PlaceOrderBody = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    qty: Type.Integer({ minimum: 1, maximum: MAX_QTY }),
  },
  { additionalProperties: false },
)
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/
const OrderParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })

const REFUSAL_ERRORS: Readonly<Record<GateRefusal, new (saleId: string) => Error>> = {
  sold_out: SoldOut,
  limit_reached: LimitReached,
  not_open: SaleNotOpen,
  closed: SaleClosed,
  paused: SalePaused,
  unknown_sale: UnknownSale,
}

export interface OrderRoutesOptions {
  readonly place: Omit<PlaceOrderDeps, 'log'>
  /** Told every placement's outcome (order_placements_total). */
  readonly placed?: (result: PlaceOrderResult) => void
  readonly get: Omit<GetOrderDeps, 'log'>
}

export async function orderRoutes(app: FastifyInstance, { place, get, placed }: OrderRoutesOptions): Promise<void> {
  app.post<{ Body: Static<typeof PlaceOrderBody> }>(
    '/orders',
    { onRequest: app.requireUser, bodyLimit: 1024, schema: { body: PlaceOrderBody } },
    async (request, reply) => {
      const key = request.headers['idempotency-key']
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) throw new IdempotencyKeyMissing()
      const user = request.user!
      const bearerToken = request.headers.authorization!.slice('Bearer '.length)
      const result = await placeOrder({ ...place, log: request.log }, { userId: user.userId, bearerToken, idempotencyKey: key, ...request.body })
      placed?.(result)
      return answer(reply, result)
    },
  )

  app.get<{ Params: Static<typeof OrderParams> }>('/orders/:id', { onRequest: app.requireUser, schema: { params: OrderParams } }, async (request) => {
    const order = await getOrder({ ...get, log: request.log }, request.params.id, request.user!.userId)
    if (!order) throw new OrderNotFound(request.params.id)
    const { userId: _owner, ...view } = order
    return view
  })
}

function answer(reply: FastifyReply, result: PlaceOrderResult) {
  switch (result.kind) {
    case 'accepted': {
      const statusUrl = `/orders/${result.orderId}`
      if (result.replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(202).header('location', statusUrl).send({ orderId: result.orderId, status: 'pending', statusUrl })
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
      throw Object.assign(new RequestInProgress(), { retryAfterSeconds: 1 })
    case 'gate_unavailable':
      throw Object.assign(new StockGateUnavailable(), { retryAfterSeconds: result.retryAfterSeconds })
    case 'queue_unavailable':
      throw Object.assign(new QueueUnavailable(), { retryAfterSeconds: 2 })
    case 'idempotency_unavailable':
      throw Object.assign(new IdempotencyUnavailable(), { retryAfterSeconds: 2 })
  }
}
