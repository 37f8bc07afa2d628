/** Reviews, ratings and purchases as the use cases see them. Pure: no I/O. */
export interface Review {
  /** A bigint in the database; a decimal string here and in JSON. */
  readonly id: string
  readonly productId: string
  readonly userId: string
  readonly rating: number
  readonly title: string
  readonly body: string
  readonly createdAt: string
}

export type NewReview = Omit<Review, 'id' | 'createdAt'> & { readonly sku: string }

export interface ReviewPage {
  readonly reviews: readonly Review[]
  /** Pass as ?cursor= for the next (older) page; null on the last page. */
  readonly nextCursor: string | null
}

export interface Rating {
  readonly count: number
  /** Mean of the ratings, rounded to 2 decimals; null without reviews. */
  readonly average: number | null
  /** Reviews per star, "1".."5". */
  readonly histogram: Readonly<Record<'1' | '2' | '3' | '4' | '5', number>>
}

export function ratingFrom(counts: ReadonlyMap<number, number>): Rating {
  const histogram = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 }
  let count = 0
  let sum = 0
  for (const star of [1, 2, 3, 4, 5] as const) {
    const n = counts.get(star) ?? 0
    histogram[String(star) as keyof typeof histogram] = n
    count += n
    sum += n * star
  }
  return { count, average: count === 0 ? null : Math.round((sum / count) * 100) / 100, histogram }
}

/** A purchase as the read model keeps it: one per order. */
export interface Purchase {
  readonly orderId: string
  readonly userId: string
  readonly sku: string
  readonly qty: number
  readonly status: 'confirmed' | 'paid' | 'cancelled' | 'rejected'
  readonly occurredAt: string
}

/**
 * How an order's row moves when an event arrives (the rule the store's upsert enforces in SQL):
 * confirmed → paid; confirmed/paid → cancelled/rejected; cancelled/rejected are final; the same status again
 * (a redelivery) changes nothing. So redeliveries and late duplicates can never resurrect a cancelled order.
 */
export function nextStatus(current: Purchase['status'] | undefined, incoming: Purchase['status']): Purchase['status'] | undefined {
  if (current === undefined) return incoming
  if (current === 'cancelled' || current === 'rejected') return undefined
  if (incoming === 'cancelled' || incoming === 'rejected') return incoming
  if (current === 'confirmed' && incoming === 'paid') return 'paid'
  return undefined
}

export const countsAsPurchase = (status: Purchase['status']): boolean => status === 'confirmed' || status === 'paid'
