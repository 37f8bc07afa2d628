/**
 *   GET /users/me/orders?limit=&cursor=   the buyer's orders, newest first: {orders, nextCursor}
 * Non-core: read from the replicas, and the gateway may shed it under load.
 */
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { listOrders, type ListOrdersDeps } from '../domain/list-orders.ts'
import { BadCursor } from '../errors.ts'

export const MAX_PAGE = 100

const HistoryQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)

export async function historyRoutes(app: FastifyInstance, { history }: { history: ListOrdersDeps }): Promise<void> {
  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/users/me/orders',
    { onRequest: app.requireUser, schema: { querystring: HistoryQuery } },
    async (request) => {
      const result = await listOrders(history, request.user!.userId, { limit: request.query.limit, cursor: request.query.cursor })
      if (result.kind === 'bad_cursor') throw new BadCursor()
      return { orders: result.orders.map(({ userId: _owner, ...view }) => view), nextCursor: result.nextCursor }
    },
  )
}
