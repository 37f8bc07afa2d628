/** review.reviews in Postgres: pages from a replica (or the primary in a writer's window), the rest on the primary. */
import type { Database } from '@flashsale/db'
import type { ReviewRepository } from '../domain/ports.ts'
import type { Review } from '../domain/review.ts'

// ORDER BY must name r.id: a bare `id` would sort by this text alias ('10' < '9').
const COLUMNS = 'id::text AS id, product_id, user_id, rating, title, body, created_at'
/** The rating loader's one statement (tests count its executions with pg_stat_statements). */
export const RATING_COUNTS_SQL = 'SELECT rating, count(*)::int AS n FROM review.reviews WHERE product_id = $1 GROUP BY rating'

interface ReviewRow {
  id: string
  product_id: string
  user_id: string
  rating: number
  title: string
  body: string
  created_at: Date
}

const toReview = (r: ReviewRow): Review => ({
  id: r.id,
  productId: r.product_id,
  userId: r.user_id,
  rating: r.rating,
  title: r.title,
  body: r.body,
  createdAt: r.created_at.toISOString(),
})

export function createReviewStore(db: Database): ReviewRepository {
  return {
    async page(productId, limit, beforeId, reader) {
      const { rows } =
        beforeId === undefined
          ? await db.read<ReviewRow>(
              `SELECT ${COLUMNS} FROM review.reviews r WHERE product_id = $1 ORDER BY r.id DESC LIMIT $2`,
              [productId, limit],
              reader ? { userId: reader } : {},
            )
          : await db.read<ReviewRow>(
              `SELECT ${COLUMNS} FROM review.reviews r WHERE product_id = $1 AND r.id < $3::bigint ORDER BY r.id DESC LIMIT $2`,
              [productId, limit, beforeId],
              reader ? { userId: reader } : {},
            )
      return rows.map(toReview)
    },

    async ratingCounts(productId) {
      const { rows } = await db.query<{ rating: number; n: number }>(RATING_COUNTS_SQL, [productId])
      return new Map(rows.map((r) => [r.rating, r.n]))
    },

    async insert(r) {
      const { rows } = await db.query<ReviewRow>(
        `INSERT INTO review.reviews (product_id, sku, user_id, rating, title, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT reviews_one_per_user DO NOTHING RETURNING ${COLUMNS}`,
        [r.productId, r.sku, r.userId, r.rating, r.title, r.body],
      )
      return rows[0] ? { outcome: 'inserted', review: toReview(rows[0]) } : { outcome: 'duplicate' }
    },

    markWrite: (userId) => db.markWrite(userId),
  }
}
