/**
 * What the review use cases need from the outside: Postgres (src/store/), the caches (@flashsale/cache,
 * wired in app.ts) and the catalog (src/clients/catalog-client.ts).
 */
import type { Log } from '@flashsale/logging'
import type { NewReview, Purchase, Rating, Review, ReviewPage } from './review.ts'

export interface ReviewRepository {
  /** Newest first, older than `beforeId` when given. `reader` → the primary inside their read-your-own-writes window, else a replica. */
  page(productId: string, limit: number, beforeId?: string, reader?: string): Promise<Review[]>
  /** Star counts of a product (the cache's loader: from the primary). */
  ratingCounts(productId: string): Promise<ReadonlyMap<number, number>>
  /** 'duplicate' when the user already reviewed the product (the unique constraint decides). */
  insert(review: NewReview): Promise<{ readonly outcome: 'inserted'; readonly review: Review } | { readonly outcome: 'duplicate' }>
  markWrite(userId: string): Promise<void>
}

export interface PurchaseRepository {
  /** Whether the user has a confirmed or paid order of the SKU (from the primary: a write depends on it). */
  isVerifiedBuyer(userId: string, sku: string): Promise<boolean>
  /** Applies purchases in order, in one transaction; returns how many changed a row. */
  apply(purchases: readonly Purchase[]): Promise<number>
}

export interface ProductDirectory {
  /** The product's SKU; undefined when the catalog has no such product. Throws when the catalog cannot answer. */
  skuOf(productId: string): Promise<string | undefined>
}

export interface ReadCache<T> {
  get(key: string, load: (key: string) => Promise<T | undefined>): Promise<T | undefined>
  invalidate(key: string): Promise<void>
}

export interface ReviewContext {
  readonly reviews: ReviewRepository
  readonly purchases: PurchaseRepository
  readonly products: ProductDirectory
  readonly ratingCache: ReadCache<Rating>
  /** The first page (default size) of a product's reviews: what almost every reader asks for. */
  readonly firstPageCache: ReadCache<ReviewPage>
  readonly defaultPageSize: number
  readonly log: Log
}

/** The product directory could not answer (catalog down, slow, or its breaker open): a 503, not a 404. */
export class DirectoryUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DirectoryUnavailable'
  }
}
