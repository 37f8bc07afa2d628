/**
 * Public reads.
 *   getProduct:   cache (L1 hot keys → Redis → Bloom filter → primary), not-found cached briefly
 *   listProducts: decode the cursor → one keyset query on a replica (the primary inside the reader's
 *                 read-your-own-writes window) → next cursor. Lists are not cached: too many
 *                 combinations of category × sort × cursor to invalidate on a write, and replicas scale.
 */
import type { CatalogContext } from './ports.ts'
import { decodeCursor, encodeCursor, type ListQuery, type Product, type ProductPage, type SortField, type SortOrder } from './product.ts'

export function getProduct(ctx: CatalogContext, id: string): Promise<Product | undefined> {
  return ctx.productCache.get(id, async (key) => (await ctx.products.get(key)) ?? undefined)
}

export interface ListRequest {
  readonly category?: string
  readonly sort: SortField
  readonly order: SortOrder
  readonly limit: number
  readonly cursor?: string
  /** The caller, for read-your-own-writes (an admin who just wrote sees it in lists). */
  readonly reader?: string
}

export type ListResult = { readonly outcome: 'ok'; readonly page: ProductPage } | { readonly outcome: 'invalid_cursor'; readonly problem: string }

export async function listProducts(ctx: CatalogContext, req: ListRequest): Promise<ListResult> {
  const shape = { sort: req.sort, order: req.order, ...(req.category !== undefined ? { category: req.category } : {}) }
  let query: ListQuery = { ...shape, limit: req.limit }
  if (req.cursor !== undefined) {
    const after = decodeCursor(req.cursor, shape)
    if ('problem' in after) return { outcome: 'invalid_cursor', problem: after.problem }
    query = { ...query, after }
  }
  const rows = await ctx.products.list({ ...query, limit: req.limit + 1 }, req.reader)
  const products = rows.slice(0, req.limit)
  const last = products.at(-1)
  return { outcome: 'ok', page: { products, nextCursor: rows.length > req.limit && last ? encodeCursor(shape, last) : null } }
}
