/**
 * SQL of what happens to an order after the worker persisted it: payment, the payment-timeout sweeper,
 * the follow-up of status changes (effects_pending_since, migrations/0002), and the buyer's history.
 */
import type { Database } from '@flashsale/db'
import { withTransaction } from '@flashsale/db'
import type { HistoryCursor, HistoryPage } from '../domain/list-orders.ts'
import type { OrderEffectsDeps } from '../domain/order-effects.ts'
import type { PaymentAttempt, PaymentRecord } from '../domain/pay-order.ts'
import type { OrderStatusView, ReservationSteps, StatusCache } from '../domain/ports.ts'
import { toView } from './orders-store.ts'

const COLUMNS = 'o.id, o.user_id, o.sale_id, o.sku, o.qty, o.status, o.reason, o.reservation_expires_at, o.requested_at'

type Row = Parameters<typeof toView>[0]

export interface OrderLifecycleStore {
  /** One transaction: confirmed and inside its window → paid, with its payment row; else what stands in the way. */
  pay(orderId: string, userId: string, reference: string): Promise<PaymentAttempt>
  /** One transaction: cancels up to `limit` unpaid orders past their window and returns their units to the ledger. */
  cancelExpired(limit: number): Promise<OrderStatusView[]>
  /** Leases (for `olderThanMs`) up to `limit` orders whose follow-up was left unfinished `olderThanMs` ago. */
  takePendingEffects(olderThanMs: number, limit: number): Promise<OrderStatusView[]>
  markEffectsDone(orderIds: readonly string[]): Promise<void>
  history(userId: string, limit: number, cursor: HistoryCursor | undefined): Promise<HistoryPage>
}

export function createOrderLifecycleStore(db: Database): OrderLifecycleStore {
  return {
    pay: (orderId, userId, reference) =>
      withTransaction(db.primary, async (tx): Promise<PaymentAttempt> => {
        // Under READ COMMITTED this UPDATE waits for a sweeper holding the row and then re-checks the
        // WHERE against the committed row: a cancelled order is not paid, a paid one is not cancelled.
        const { rows: paid } = await tx.query<Row>(
          `UPDATE orders.orders o SET status = 'paid', updated_at = now(), effects_pending_since = now()
            WHERE o.id = $1 AND o.user_id = $2 AND o.status = 'confirmed' AND o.reservation_expires_at > now()
            RETURNING ${COLUMNS}`,
          [orderId, userId],
        )
        if (paid[0]) {
          const { rows } = await tx.query<{ reference: string; paid_at: Date }>(
            'INSERT INTO orders.payments (order_id, user_id, reference) VALUES ($1, $2, $3) RETURNING reference, paid_at',
            [orderId, userId, reference],
          )
          return { kind: 'paid', order: toView(paid[0]), payment: toPayment(orderId, rows[0]!), replayed: false }
        }
        const { rows } = await tx.query<Row & { reference: string | null; paid_at: Date | null; expired: boolean }>(
          `SELECT ${COLUMNS}, p.reference, p.paid_at, o.reservation_expires_at <= now() AS expired
             FROM orders.orders o LEFT JOIN orders.payments p ON p.order_id = o.id
            WHERE o.id = $1 AND o.user_id = $2`,
          [orderId, userId],
        )
        const row = rows[0]
        if (!row) return { kind: 'not_found' }
        if (row.status === 'paid' && row.reference && row.paid_at) return { kind: 'paid', order: toView(row), payment: toPayment(orderId, row), replayed: true }
        if ((row.status === 'confirmed' && row.expired) || (row.status === 'cancelled' && row.reason === 'payment_timeout')) {
          return { kind: 'window_closed', order: toView(row) }
        }
        return { kind: 'not_payable', order: toView(row) }
      }),

    cancelExpired: (limit) =>
      withTransaction(db.primary, async (tx) => {
        // SKIP LOCKED: concurrent sweepers take disjoint rows, and a row being paid right now is skipped
        // (the payment decides it). Each row moves confirmed → cancelled once, so its units return once.
        const { rows } = await tx.query<Row>(
          `WITH doomed AS (
             SELECT id FROM orders.orders
              WHERE status = 'confirmed' AND reservation_expires_at <= now()
              ORDER BY reservation_expires_at
              LIMIT $1
              FOR UPDATE SKIP LOCKED)
           UPDATE orders.orders o SET status = 'cancelled', reason = 'payment_timeout', updated_at = now(), effects_pending_since = now()
             FROM doomed WHERE o.id = doomed.id
           RETURNING ${COLUMNS}`,
          [limit],
        )
        if (rows.length > 0) {
          // Stock rows are locked in sale id order, as the worker's batches lock them (no deadlock).
          await tx.query(
            `SELECT inventory.return_units(s.sale_id, s.qty, s.user_id)
               FROM (SELECT sale_id, qty, user_id FROM orders.orders WHERE id = ANY($1::uuid[]) ORDER BY sale_id, id) s`,
            [rows.map((r) => r.id)],
          )
        }
        return rows.map(toView)
      }),

    async takePendingEffects(olderThanMs, limit) {
      const { rows } = await db.query<Row>(
        `UPDATE orders.orders o SET effects_pending_since = now()
          WHERE o.id IN (SELECT id FROM orders.orders
                          WHERE effects_pending_since < now() - make_interval(secs => $1::double precision / 1000)
                          ORDER BY effects_pending_since LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}`,
        [olderThanMs, limit],
      )
      return rows.map(toView)
    },

    async markEffectsDone(orderIds) {
      if (orderIds.length === 0) return
      await db.query('UPDATE orders.orders SET effects_pending_since = NULL WHERE id = ANY($1::uuid[])', [orderIds])
    },

    async history(userId, limit, cursor) {
      // Keyset paging on (created_at DESC, id ASC), the order of orders_user_created_idx. created_at goes
      // into the cursor as text with microseconds: a JS Date would round it and skip or repeat rows (a
      // whole batch shares one created_at, the worker transaction's now()).
      const { rows } = await db.read<Row & { created_at_text: string }>(
        `SELECT ${COLUMNS}, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_text
           FROM orders.orders o
          WHERE o.user_id = $1
            AND ($2::timestamptz IS NULL OR o.created_at < $2::timestamptz OR (o.created_at = $2::timestamptz AND o.id > $3::uuid))
          ORDER BY o.created_at DESC, o.id
          LIMIT $4`,
        [userId, cursor?.createdAt ?? null, cursor?.id ?? null, limit + 1],
        { userId },
      )
      const page = rows.slice(0, limit)
      const last = page.at(-1)
      return {
        orders: page.map((r) => ({ ...toView(r), createdAt: r.created_at_text })),
        next: rows.length > limit && last ? { createdAt: last.created_at_text, id: last.id } : undefined,
      }
    },
  }
}

function toPayment(orderId: string, row: { reference: string | null; paid_at: Date | null }): PaymentRecord {
  return { orderId, status: 'paid', paymentReference: row.reference ?? '', paidAt: (row.paid_at ?? new Date(0)).toISOString() }
}

/**
 * What follows a committed status change (domain/order-effects.ts), wired: the gate's admin steps, the
 * status cache, orders.events, and this store's record that the follow-up is done. The API (payments) and
 * the worker (the sweeper) use the same wiring.
 */
export function createOrderEffects(
  db: Database,
  { steps, statusCache, publish }: { steps: ReservationSteps; statusCache: StatusCache; publish: (orders: readonly OrderStatusView[]) => Promise<void> },
): OrderEffectsDeps {
  const store = createOrderLifecycleStore(db)
  return { gate: steps, statusCache, publish, markDone: (ids) => store.markEffectsDone(ids) }
}
