/**
 * Public reads.
 *   productRating: cache (loader: star counts from the primary) → count, average, histogram
 *   listReviews:   the first page of the default size from the cache; any other page from a replica
 *                  (the primary for a reader inside their read-your-own-writes window)
 * A product the catalog does not know simply has no reviews: reads never call the catalog.
 */
import type { ReviewContext } from './ports.ts'
import { ratingFrom, type Rating, type ReviewPage } from './review.ts'

export async function productRating(ctx: ReviewContext, productId: string): Promise<Rating> {
  return (await ctx.ratingCache.get(productId, async (id) => ratingFrom(await ctx.reviews.ratingCounts(id)))) ?? ratingFrom(new Map())
}

export async function listReviews(
  ctx: ReviewContext,
  productId: string,
  { limit, cursor, reader }: { limit: number; cursor?: string; reader?: string },
): Promise<ReviewPage> {
  const load = async (): Promise<ReviewPage> => {
    const rows = await ctx.reviews.page(productId, limit + 1, cursor, reader)
    const reviews = rows.slice(0, limit)
    return { reviews, nextCursor: rows.length > limit ? (reviews.at(-1)?.id ?? null) : null }
  }
  if (cursor === undefined && limit === ctx.defaultPageSize) return (await ctx.firstPageCache.get(productId, load)) ?? { reviews: [], nextCursor: null }
  return load()
}
