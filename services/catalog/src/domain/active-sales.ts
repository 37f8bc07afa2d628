/**
 * GET /sales/active: for each SKU asked for (or the featured ones), the sales whose window contains now,
 * with the units left as the inventory's Redis gate saw them a moment ago. Approximate twice over: the
 * gate moves with every reservation, and the answer is cached per SKU for a second.
 */
import type { CatalogContext, SaleSummary } from './ports.ts'
import type { Product } from './product.ts'

export interface ActiveSale extends SaleSummary {
  readonly product: Pick<Product, 'id' | 'name' | 'priceCents' | 'imageUrl'> | null
}

export async function activeSales(ctx: CatalogContext, skus: readonly string[]): Promise<ActiveSale[]> {
  const wanted = skus.length > 0 ? skus : ctx.featuredSkus
  if (wanted.length === 0) return []
  const now = ctx.now()
  const perSku = await Promise.all(wanted.map(async (sku) => (await ctx.salesCache.get(sku, (s) => ctx.sales.currentSales(s, now))) ?? []))
  const sales = perSku.flat().filter((s) => s.status === 'open' || s.status === 'not_open')
  if (sales.length === 0) return []
  const products = new Map((await ctx.products.bySkus([...new Set(sales.map((s) => s.sku))])).map((p) => [p.sku, p]))
  return sales.map((s) => {
    const p = products.get(s.sku)
    return { ...s, product: p ? { id: p.id, name: p.name, priceCents: p.priceCents, imageUrl: p.imageUrl } : null }
  })
}
