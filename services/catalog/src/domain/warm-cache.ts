/**
 * Cache warming, at boot and at a sale's start: load the products that are about to be read by
 * everyone (the featured/sale SKUs, then the newest N) so the first buyers hit Redis, not the primary.
 * Loads go through the cache (coalesced, at most `concurrency` at a time); a failure is logged, never fatal.
 */
import type { CatalogContext } from './ports.ts'
import { getProduct } from './browse-products.ts'

export async function warmProducts(
  ctx: CatalogContext,
  { skus = [], topN = 0, concurrency = 16 }: { skus?: readonly string[]; topN?: number; concurrency?: number },
): Promise<number> {
  const ids = new Set<string>()
  if (skus.length > 0) for (const p of await ctx.products.bySkus(skus)) ids.add(p.id)
  if (topN > 0) for (const id of await ctx.products.newestIds(topN)) ids.add(id)
  const queue = [...ids]
  let warmed = 0
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        if (await getProduct(ctx, id)) warmed++
      } catch (err) {
        ctx.log.warn({ err, productId: id }, 'could not warm a product')
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker))
  return warmed
}
