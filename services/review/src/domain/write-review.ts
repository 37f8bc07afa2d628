/**
 * POST /products/:id/reviews, as a story:
 *   which SKU is the product (catalog) → is the author a verified buyer of it (read model) →
 *   insert (one per user per product: the unique constraint decides) → after COMMIT, delete the cached
 *   rating and first page → mark the author's write (they read their own review from the primary)
 */
import type { ReviewContext } from './ports.ts'
import type { Review } from './review.ts'

export interface ReviewInput {
  readonly productId: string
  readonly userId: string
  readonly rating: number
  readonly title: string
  readonly body: string
}

export type WriteReviewResult =
  { readonly outcome: 'created'; readonly review: Review } | { readonly outcome: 'product_not_found' | 'not_verified_buyer' | 'already_reviewed' }

export async function writeReview(ctx: ReviewContext, input: ReviewInput): Promise<WriteReviewResult> {
  const sku = await ctx.products.skuOf(input.productId)
  if (sku === undefined) return { outcome: 'product_not_found' }
  if (!(await ctx.purchases.isVerifiedBuyer(input.userId, sku))) return { outcome: 'not_verified_buyer' }
  const inserted = await ctx.reviews.insert({ ...input, sku })
  if (inserted.outcome === 'duplicate') return { outcome: 'already_reviewed' }
  await Promise.all(
    [ctx.ratingCache, ctx.firstPageCache].map((cache) =>
      cache
        .invalidate(input.productId)
        .catch((err: unknown) => ctx.log.error({ err, productId: input.productId }, 'review saved but a cached copy may be stale until its TTL')),
    ),
  )
  await ctx.reviews.markWrite(input.userId).catch((err: unknown) => ctx.log.warn({ err }, 'read-your-own-writes mark not set'))
  return { outcome: 'created', review: inserted.review }
}
