/**
 *   GET /users/me/orders?limit=&cursor=   the buyer's orders, newest first: {orders, nextCursor}
 * Non-core: read from the replicas, and the gateway may shed it under load.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { HistoryQuery, OrderHistory } from '../contract.ts'
import { listOrders } from '../domain/list-orders.ts'
import type { OrderContext } from '../domain/ports.ts'
import { BadCursor } from '../errors.ts'

const SCHEMA = {
  summary: "The buyer's orders, newest first (keyset-paged; read from replicas)",
  tags: ['order'],
  querystring: HistoryQuery,
  response: {
    200: jsonResponse('One page', OrderHistory),
    ...problemResponses({
      400: 'The request is not valid (VALIDATION_FAILED), or the cursor is not one this service handed out (ORDER_ERR_BAD_CURSOR)',
      401: 'No valid bearer token',
      503: 'The database is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)',
    }),
  },
}

export async function historyRoutes(app: FastifyInstance, { ctx }: { ctx: OrderContext }): Promise<void> {
  app.get<{ Querystring: HistoryQuery }>('/users/me/orders', { onRequest: app.requireUser, schema: SCHEMA }, async (request) => {
    const result = await listOrders(ctx, request.user!.userId, { limit: request.query.limit, cursor: request.query.cursor })
    if (result.kind === 'bad_cursor') throw new BadCursor()
    return { orders: result.orders.map(({ userId: _owner, ...view }) => view), nextCursor: result.nextCursor } satisfies Static<typeof OrderHistory>
  })
}
