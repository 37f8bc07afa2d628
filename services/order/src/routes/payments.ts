/**
 *   POST /orders/:id/pay    the buyer pays (simulated): 200 {orderId, status: "paid", paymentReference, paidAt}
 * The same answer on every repeat (idempotent on the order id; a repeat carries `idempotent-replayed`).
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { OrderParams, Payment } from '../contract.ts'
import { payOrder } from '../domain/pay-order.ts'
import type { OrderContext } from '../domain/ports.ts'
import { NotPayable, OrderNotFound, PaymentWindowClosed } from '../errors.ts'

const SCHEMA = {
  summary: 'Pays an order (simulated): idempotent on the order id',
  tags: ['order'],
  params: OrderParams,
  response: {
    200: {
      ...jsonResponse('Paid, now or before (the same payment on every repeat)', Payment),
      headers: { 'idempotent-replayed': { type: 'string', enum: ['true'], description: 'present when the order was paid before this request' } },
    },
    ...problemResponses({
      401: 'No valid bearer token',
      404: "No such order, or another buyer's (ORDER_ERR_NOT_FOUND)",
      409:
        'Not payable in its state (ORDER_ERR_NOT_PAYABLE, with orderStatus; pending: still in the queue, retry) ' +
        'or its payment window has closed (ORDER_ERR_PAYMENT_WINDOW_CLOSED, with reservationExpiresAt)',
      413: 'The body is over 1 KiB',
      503: 'The database is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)',
    }),
  },
}

export async function paymentRoutes(app: FastifyInstance, { ctx }: { ctx: OrderContext }): Promise<void> {
  app.post<{ Params: OrderParams }>('/orders/:id/pay', { onRequest: app.requireUser, bodyLimit: 1024, schema: SCHEMA }, async (request, reply) => {
    const { id } = request.params
    const result = await payOrder({ ...ctx, log: request.log }, id, request.user!.userId)
    switch (result.kind) {
      case 'paid':
        if (result.replayed) reply.header('idempotent-replayed', 'true')
        return result.payment satisfies Static<typeof Payment>
      case 'not_found':
        throw new OrderNotFound(id)
      case 'window_closed':
        throw Object.assign(new PaymentWindowClosed(id), { details: { reservationExpiresAt: result.expiresAt } })
      case 'not_payable':
        // `pending`: still in the queue, worth a retry; anything else is final.
        throw Object.assign(new NotPayable(id), { details: { orderStatus: result.status }, ...(result.status === 'pending' ? { retryAfterSeconds: 1 } : {}) })
    }
  })
}
