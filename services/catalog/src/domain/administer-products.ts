/**
 * Admin writes: the primary first, then delete-on-write invalidation after the commit (cache README:
 * never update a cached value in place), then the writer's read-your-own-writes mark.
 *   create: Bloom add inside the transaction (no reader is ever told "does not exist" for a committed
 *           row) → commit → invalidate (drops a cached "not found") → markWrite
 *   change: update → commit → invalidate → markWrite
 */
import type { CatalogContext } from './ports.ts'
import { ProductIdTaken, SkuTaken } from './ports.ts'
import type { NewProduct, Product, ProductChanges } from './product.ts'

export type CreateProductResult =
  { readonly outcome: 'created'; readonly product: Product } | { readonly outcome: 'id_taken' } | { readonly outcome: 'sku_taken' }

export async function createProduct(ctx: CatalogContext, writer: string, input: NewProduct): Promise<CreateProductResult> {
  let product: Product
  try {
    product = await ctx.products.create(input, () => ctx.productCache.remember(input.id))
  } catch (err) {
    if (err instanceof ProductIdTaken) return { outcome: 'id_taken' }
    if (err instanceof SkuTaken) return { outcome: 'sku_taken' }
    throw err
  }
  await afterCommit(ctx, writer, product.id)
  return { outcome: 'created', product }
}

export type ChangeProductResult = { readonly outcome: 'changed'; readonly product: Product } | { readonly outcome: 'not_found' }

export async function changeProduct(ctx: CatalogContext, writer: string, id: string, changes: ProductChanges): Promise<ChangeProductResult> {
  const product = await ctx.products.update(id, changes)
  if (!product) return { outcome: 'not_found' }
  await afterCommit(ctx, writer, id)
  return { outcome: 'changed', product }
}

/**
 * The write is committed whatever happens here. An invalidation Redis did not take is retried (it is
 * idempotent); if it still fails, the old value can be served until its TTL (+ grace), which the log says.
 */
async function afterCommit(ctx: CatalogContext, writer: string, id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.productCache.invalidate(id)
      break
    } catch (err) {
      if (attempt >= 3) {
        ctx.log.error({ err, productId: id }, 'product saved but its cache entry could not be invalidated; it may be stale until its TTL')
        break
      }
      await new Promise((r) => setTimeout(r, 50 * attempt))
    }
  }
  await ctx.products.markWrite(writer).catch((err: unknown) => ctx.log.warn({ err, writer }, 'read-your-own-writes mark not set'))
}
