/**
 * GET /sales/active?sku=a,b — current and upcoming sales of these SKUs (default: FEATURED_SKUS) with the
 * units left as the inventory's stock gate saw them: `approximate: true`, always. Never used to decide
 * anything; the gate decides at reservation time.
 */
import type { FastifyInstance } from 'fastify'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { ActiveSales, ActiveSalesQuery } from '../contract.ts'
import { activeSales } from '../domain/active-sales.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { InventoryUnavailable } from '../errors.ts'

export async function saleRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.get<{ Querystring: ActiveSalesQuery }>(
    '/sales/active',
    {
      schema: {
        summary: 'Current and upcoming sales of some SKUs, with approximate units left',
        tags: ['catalog'],
        querystring: ActiveSalesQuery,
        response: {
          200: jsonResponse('The sales of these SKUs (default: the featured ones) that are open or not yet open, with their products', ActiveSales),
          ...problemResponses({
            503: 'The inventory service cannot answer and no answer of the last 30 s is cached (CATALOG_ERR_INVENTORY_UNAVAILABLE); retry after Retry-After',
          }),
        },
      },
    },
    async (request) => {
      const skus = request.query.sku ? [...new Set(request.query.sku.split(','))] : []
      try {
        const sales = await activeSales(ctx, skus)
        return { approximate: true, asOf: new Date(ctx.now()).toISOString(), sales }
      } catch (err) {
        request.log.warn({ err }, 'inventory unavailable for /sales/active')
        throw new InventoryUnavailable()
      }
    },
  )
}
