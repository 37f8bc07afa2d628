/**
 *   POST /orders/:id/pay    the buyer pays (simulated): 200 {orderId, status: "paid", paymentReference, paidAt}
 * The same answer on every repeat (idempotent on the order id; a repeat carries `idempotent-replayed`).
 */
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { payOrder, type PayOrderDeps } from '../domain/pay-order.ts'
import { NotPayable, OrderNotFound, PaymentWindowClosed } from '../errors.ts'

const OrderParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })

export async function paymentRoutes(app: FastifyInstance, { pay }: { pay: Omit<PayOrderDeps, 'log'> }): Promise<void> {
  app.post<{ Params: Static<typeof OrderParams> }>(
    '/orders/:id/pay',
    { onRequest: app.requireUser, bodyLimit: 1024, schema: { params: OrderParams } },
    async (request, reply) => {
      const { id } = request.params
      const result = await payOrder({ ...pay, log: request.log }, id, request.user!.userId)
      switch (result.kind) {
        case 'paid':
          if (result.replayed) reply.header('idempotent-replayed', 'true')
          return result.payment
        case 'not_found':
          throw new OrderNotFound(id)
        case 'window_closed':
          throw Object.assign(new PaymentWindowClosed(id), { details: { reservationExpiresAt: result.expiresAt } })
        case 'not_payable':
          // `pending`: still in the queue, worth a retry; anything else is final.
          throw Object.assign(new NotPayable(id), { details: { orderStatus: result.status }, ...(result.status === 'pending' ? { retryAfterSeconds: 1 } : {}) })
      }
    },
  )
}
