/**
 * Public reads of sales (no token): what a product page and the order service need.
 *   GET /sales/:id      the sale, whether the gate is open now, and the approximate units left (from Redis)
 *   GET /sales?sku=     the sales of a SKU, newest window first (from a replica)
 */
import type { FastifyInstance } from 'fastify'
import type { InventoryContext } from '../domain/context.ts'
import { describeSale } from '../domain/administer-sales.ts'
import { UnknownSale } from '../errors.ts'
import { SaleIdParams, SalesQuery, saleJson } from './schemas.ts'

export async function saleRoutes(app: FastifyInstance, { ctx }: { ctx: InventoryContext }): Promise<void> {
  app.get<{ Params: SaleIdParams }>('/sales/:id', { schema: { params: SaleIdParams } }, async (request) => {
    const view = await describeSale(ctx, request.params.id)
    if (!view) throw Object.assign(new UnknownSale(request.params.id), { details: { outcome: 'unknown_sale', saleId: request.params.id } })
    return {
      sale: saleJson(view.sale),
      status: view.status,
      // Read from the gate without a lock while buyers reserve: a hint for display, never a promise.
      approximateAvailable: view.approximateAvailable,
    }
  })

  app.get<{ Querystring: SalesQuery }>('/sales', { schema: { querystring: SalesQuery } }, async (request) => {
    const sales = await ctx.sales.listBySku(request.query.sku, request.query.limit ?? 10)
    return { sales: sales.map(saleJson) }
  })
}
