/**
 * Public product reads (no token needed; a token, when sent, enables read-your-own-writes for lists).
 *   GET /products          keyset-paged list: ?category=&sort=name|price|created&order=asc|desc&limit=1..100&cursor=
 *   GET /products/:id      one product, from the cache
 */
import type { FastifyInstance } from 'fastify'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { ListQuery, ProductAnswer, ProductIdParams, ProductPage } from '../contract.ts'
import { getProduct, listProducts } from '../domain/browse-products.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { InvalidCursor, ProductNotFound } from '../errors.ts'

const UNAVAILABLE = 'PostgreSQL cannot answer (SERVICE_ERR_DEPENDENCY_UNAVAILABLE); retry after Retry-After'

export async function productRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.get<{ Querystring: ListQuery }>(
    '/products',
    {
      schema: {
        summary: 'Lists products, one keyset page at a time',
        tags: ['catalog'],
        querystring: ListQuery,
        response: {
          200: jsonResponse('A page of products in the asked order, and the cursor of the next page', ProductPage),
          ...problemResponses({
            400: 'The query is not valid (VALIDATION_FAILED), or the cursor is not one this listing gave out (CATALOG_ERR_INVALID_CURSOR)',
            503: UNAVAILABLE,
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const result = await listProducts(ctx, {
        sort: q.sort ?? 'name',
        order: q.order ?? 'asc',
        limit: q.limit ?? 20,
        ...(q.category !== undefined ? { category: q.category } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(request.user ? { reader: request.user.userId } : {}),
      })
      if (result.outcome === 'invalid_cursor') throw new InvalidCursor(result.problem)
      return result.page
    },
  )

  app.get<{ Params: ProductIdParams }>(
    '/products/:id',
    {
      schema: {
        summary: 'Reads one product (from the cache)',
        tags: ['catalog'],
        params: ProductIdParams,
        response: {
          200: jsonResponse('The product', ProductAnswer),
          ...problemResponses({ 404: 'There is no such product (CATALOG_ERR_PRODUCT_NOT_FOUND)', 503: UNAVAILABLE }),
        },
      },
    },
    async (request) => {
      const product = await getProduct(ctx, request.params.id)
      if (!product) throw new ProductNotFound(request.params.id)
      return { product }
    },
  )
}
