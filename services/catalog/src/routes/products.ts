/**
 * Public product reads (no token needed; a token, when sent, enables read-your-own-writes for lists).
 *   GET /products          keyset-paged list: ?category=&sort=name|price|created&order=asc|desc&limit=1..100&cursor=
 *   GET /products/:id      one product, from the cache
 */
import type { FastifyInstance } from 'fastify'
import { getProduct, listProducts } from '../domain/browse-products.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { InvalidCursor, ProductNotFound } from '../errors.ts'
import { ListQuery, ProductIdParams } from './schemas.ts'

export async function productRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.get<{ Querystring: ListQuery }>('/products', { schema: { querystring: ListQuery } }, async (request) => {
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
  })

  app.get<{ Params: ProductIdParams }>('/products/:id', { schema: { params: ProductIdParams } }, async (request) => {
    const product = await getProduct(ctx, request.params.id)
    if (!product) throw new ProductNotFound(request.params.id)
    return { product }
  })
}
