/**
 * GET /sales/active?sku=a,b — current and upcoming sales of these SKUs (default: FEATURED_SKUS) with the
 * units left as the inventory's stock gate saw them: `approximate: true`, always. Never used to decide
 * anything; the gate decides at reservation time.
 */
import type { FastifyInstance } from 'fastify'
import { activeSales } from '../domain/active-sales.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { InventoryUnavailable } from '../errors.ts'
import { ActiveSalesQuery } from './schemas.ts'

export async function saleRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.get<{ Querystring: ActiveSalesQuery }>('/sales/active', { schema: { querystring: ActiveSalesQuery } }, async (request) => {
    const skus = request.query.sku ? [...new Set(request.query.sku.split(','))] : []
    try {
      const sales = await activeSales(ctx, skus)
      return { approximate: true, asOf: new Date(ctx.now()).toISOString(), sales }
    } catch (err) {
      request.log.warn({ err }, 'inventory unavailable for /sales/active')
      throw Object.assign(new InventoryUnavailable(), { retryAfterSeconds: 1 })
    }
  })
}
