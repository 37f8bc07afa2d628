/**
 * Admin writes (admin token), to the primary, then delete-on-write invalidation after the commit:
 *   POST  /admin/products        create (201 + Location)
 *   PATCH /admin/products/:id    change name, category, price, image, description (never the SKU)
 *   POST  /admin/cache/warm      load the products of these SKUs into the cache (at a sale's start)
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { changeProduct, createProduct } from '../domain/administer-products.ts'
import type { CatalogContext } from '../domain/ports.ts'
import { warmProducts } from '../domain/warm-cache.ts'
import { ProductExists, ProductNotFound, SkuExists } from '../errors.ts'
import { ChangeProductBody, CreateProductBody, ProductIdParams, WarmBody } from './schemas.ts'

export async function adminProductRoutes(app: FastifyInstance, { ctx }: { ctx: CatalogContext }): Promise<void> {
  app.post<{ Body: CreateProductBody }>('/admin/products', { onRequest: app.requireAdmin, schema: { body: CreateProductBody } }, async (request, reply) => {
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
  })

  app.patch<{ Params: ProductIdParams; Body: ChangeProductBody }>(
    '/admin/products/:id',
    { onRequest: app.requireAdmin, schema: { params: ProductIdParams, body: ChangeProductBody } },
    async (request) => {
      const result = await changeProduct(ctx, request.user?.userId as string, request.params.id, request.body)
      if (result.outcome === 'not_found') throw new ProductNotFound(request.params.id)
      return { product: result.product }
    },
  )

  app.post<{ Body: WarmBody }>('/admin/cache/warm', { onRequest: app.requireAdmin, schema: { body: WarmBody } }, async (request) => ({
    warmed: await warmProducts(ctx, { skus: request.body.skus }),
  }))
}
