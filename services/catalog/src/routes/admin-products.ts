/**
 * Admin writes (admin token), to the primary, then delete-on-write invalidation after the commit:
 *   POST  /admin/products        create (201 + Location)
 *   PATCH /admin/products/:id    change name, category, price, image, description (never the SKU)
 *   POST  /admin/cache/warm      load the products of these SKUs into the cache (at a sale's start)
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { CacheWarmed, ChangeProductBody, CreateProductBody, ProductAnswer, ProductIdParams, WarmBody } from '../contract.ts'
import { changeProduct, createProduct } from '../domain/administer-products.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { warmProducts } from '../domain/warm-cache.ts'
import { ProductExists, ProductNotFound, SkuExists } from '../errors.ts'

const ADMIN = {
  401: 'No valid bearer token (AUTH_ERR_UNAUTHENTICATED)',
  403: 'The token lacks the admin role (AUTH_ERR_FORBIDDEN)',
}
const UNAVAILABLE = (what: string) => `${what} cannot answer (SERVICE_ERR_DEPENDENCY_UNAVAILABLE); retry after Retry-After`

export async function adminProductRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.post<{ Body: CreateProductBody }>(
    '/admin/products',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Creates a product',
        tags: ['catalog'],
        body: CreateProductBody,
        response: {
          201: {
            ...jsonResponse('Created; Location names the product', ProductAnswer),
            headers: { location: { type: 'string', description: '/products/<id>' } },
          },
          ...problemResponses({
            ...ADMIN,
            409: 'A product with this id (CATALOG_ERR_PRODUCT_EXISTS) or this SKU (CATALOG_ERR_SKU_EXISTS) already exists; nothing was changed',
            // Redis too: the id joins the Bloom filter inside the transaction.
            503: UNAVAILABLE('The PostgreSQL primary or Redis'),
          }),
        },
      },
    },
    async (request, reply) => {
      const b = request.body
      const id = b.id ?? `prod-${randomUUID()}`
      const writer = request.user?.userId as string
      const result = await createProduct(ctx, writer, {
        id,
        sku: b.sku,
        name: b.name,
        category: b.category,
        priceCents: b.priceCents,
        imageUrl: b.imageUrl ?? '',
        description: b.description ?? '',
      })
      if (result.outcome === 'id_taken') throw new ProductExists(id)
      if (result.outcome === 'sku_taken') throw new SkuExists(b.sku)
      return reply
        .code(201)
        .header('location', `/products/${encodeURIComponent(id)}`)
        .send({ product: result.product })
    },
  )

  app.patch<{ Params: ProductIdParams; Body: ChangeProductBody }>(
    '/admin/products/:id',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: "Changes a product's name, category, price, image or description (never its SKU)",
        tags: ['catalog'],
        params: ProductIdParams,
        body: ChangeProductBody,
        response: {
          200: jsonResponse('The product as changed', ProductAnswer),
          ...problemResponses({ ...ADMIN, 404: 'There is no such product (CATALOG_ERR_PRODUCT_NOT_FOUND)', 503: UNAVAILABLE('The PostgreSQL primary') }),
        },
      },
    },
    async (request) => {
      const result = await changeProduct(ctx, request.user?.userId as string, request.params.id, request.body)
      if (result.outcome === 'not_found') throw new ProductNotFound(request.params.id)
      return { product: result.product }
    },
  )

  app.post<{ Body: WarmBody }>(
    '/admin/cache/warm',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: "Loads the products of these SKUs into the cache (call it at a sale's start)",
        tags: ['catalog'],
        body: WarmBody,
        response: {
          200: jsonResponse('How many products were loaded', CacheWarmed),
          ...problemResponses({ ...ADMIN, 503: UNAVAILABLE('PostgreSQL') }),
        },
      },
    },
    async (request) => ({
      warmed: await warmProducts(ctx, { skus: request.body.skus }),
    }),
  )
}
