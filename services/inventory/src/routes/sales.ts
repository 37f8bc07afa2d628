/**
 * Public reads of sales (no token): what a product page and the order service need.
 *   GET /sales/:id      the sale, whether the gate is open now, and the approximate units left (from Redis)
 *   GET /sales?sku=     the sales of a SKU, newest window first (from a replica)
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { SaleIdParams, SaleList, SalesQuery, SaleStatus, saleJson } from '../contract.ts'
import type { InventoryContext } from '../domain/ports.ts'
import { describeSale } from '../domain/administer-sales.ts'
import { UnknownSale } from '../errors.ts'

const tags = ['inventory']
const SCHEMAS = {
  sale: {
    summary: 'A sale, whether the gate is open now, and the approximate units left',
    tags,
    params: SaleIdParams,
    response: {
      200: jsonResponse('The sale, from the gate (Redis), else from a Postgres replica', SaleStatus),
      ...problemResponses({
        404: 'No such sale (INVENTORY_ERR_UNKNOWN_SALE, with outcome and saleId)',
        503: 'Neither the gate nor Postgres could answer (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)',
      }),
    },
  },
  list: {
    summary: 'The sales of a SKU, newest window first (from a replica)',
    tags,
    querystring: SalesQuery,
    response: {
      200: jsonResponse('Up to `limit` sales', SaleList),
      ...problemResponses({ 503: 'Postgres is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)' }),
    },
  },
}

export async function saleRoutes(app: FastifyInstance, { ctx }: { ctx: InventoryContext }): Promise<void> {
  app.get<{ Params: SaleIdParams }>('/sales/:id', { schema: SCHEMAS.sale }, async (request) => {
    const view = await describeSale(ctx, request.params.id)
    if (!view) throw Object.assign(new UnknownSale(request.params.id), { details: { outcome: 'unknown_sale', saleId: request.params.id } })
    return {
      sale: saleJson(view.sale),
      status: view.status,
      // Read from the gate without a lock while buyers reserve: a hint for display, never a promise.
      approximateAvailable: view.approximateAvailable,
    } satisfies Static<typeof SaleStatus>
  })

  app.get<{ Querystring: SalesQuery }>('/sales', { schema: SCHEMAS.list }, async (request) => {
    const sales = await ctx.sales.listBySku(request.query.sku, request.query.limit ?? 10)
    return { sales: sales.map(saleJson) } satisfies Static<typeof SaleList>
  })
}
