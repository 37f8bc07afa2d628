/**
 * review.verified_purchases: the read model's table. One upsert per purchase, in event order, inside one
 * transaction per batch. The WHERE of the upsert is nextStatus() of domain/review.ts in SQL: the same
 * status again (a redelivery) changes nothing; confirmed → paid; → cancelled/rejected; those are final.
 */
import { withTransaction, type Database } from '@flashsale/db'
import type { PurchaseRepository } from '../domain/ports.ts'

const UPSERT = `
INSERT INTO review.verified_purchases AS p (order_id, user_id, sku, qty, status, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at, updated_at = now()
WHERE p.status NOT IN ('cancelled', 'rejected')
  AND (EXCLUDED.status IN ('cancelled', 'rejected') OR (p.status = 'confirmed' AND EXCLUDED.status = 'paid'))`

export function createPurchaseStore(db: Database): PurchaseRepository {
  return {
    async isVerifiedBuyer(userId, sku) {
      const { rowCount } = await db.query(
        `SELECT 1 FROM review.verified_purchases WHERE user_id = $1 AND sku = $2 AND status IN ('confirmed', 'paid') LIMIT 1`,
        [userId, sku],
      )
      return (rowCount ?? 0) > 0
    },

    async apply(purchases) {
      if (purchases.length === 0) return 0
      return withTransaction(db.primary, async (tx) => {
        let changed = 0
        for (const p of purchases) {
          const r = await tx.query(UPSERT, [p.orderId, p.userId, p.sku, p.qty, p.status, p.occurredAt])
          changed += r.rowCount ?? 0
        }
        return changed
      })
    },
  }
}
