/** SQL of the orders table (schema `orders`, migrations/). Reads go through the CQRS router of @flashsale/db. */
import type { Database } from '@flashsale/db'
import type { OrderStatusView } from '../domain/ports.ts'

interface OrderRow {
  id: string
  user_id: string
  sale_id: string
  sku: string
  qty: number
  status: OrderStatusView['status']
  reason: string | null
  reservation_expires_at: Date
  requested_at: Date
}

export function toView(row: OrderRow): OrderStatusView {
  return {
    orderId: row.id,
    userId: row.user_id,
    saleId: row.sale_id,
    sku: row.sku,
    qty: row.qty,
    status: row.status,
    ...(row.reason ? { reason: row.reason } : {}),
    reservationExpiresAt: row.reservation_expires_at.toISOString(),
    requestedAt: row.requested_at.toISOString(),
  }
}

export interface OrdersReader {
  /** The order if it belongs to `userId`; the buyer's own reads go to the primary right after they write. */
  findForUser(orderId: string, userId: string): Promise<OrderStatusView | undefined>
}

export function createOrdersReader(db: Database): OrdersReader {
  return {
    async findForUser(orderId, userId) {
      const { rows } = await db.read<OrderRow>(
        `SELECT id, user_id, sale_id, sku, qty, status, reason, reservation_expires_at, requested_at
           FROM orders.orders WHERE id = $1 AND user_id = $2`,
        [orderId, userId],
        { userId },
      )
      return rows[0] ? toView(rows[0]) : undefined
    },
  }
}

/** An order to persist from orders.requested, with what the stock gate said when the worker claimed it. */
export interface OrderToPersist {
  readonly orderId: string
  readonly userId: string
  readonly saleId: string
  readonly sku: string
  readonly qty: number
  readonly idempotencyKey: string
  readonly reservationExpiresAt: string
  readonly requestedAt: string
  /** Set when the order must be recorded as rejected without taking stock (e.g. its reservation was released). */
  readonly rejectReason?: string
}

const COLUMNS = 'id, user_id, sale_id, sku, qty, status, reason, reservation_expires_at, requested_at'

/** unnest() parameters for a batch insert: one round trip whatever the batch size. */
function arrays(orders: readonly OrderToPersist[]) {
  return [
    orders.map((o) => o.orderId),
    orders.map((o) => o.userId),
    orders.map((o) => o.saleId),
    orders.map((o) => o.sku),
    orders.map((o) => o.qty),
    orders.map((o) => o.idempotencyKey),
    orders.map((o) => o.reservationExpiresAt),
    orders.map((o) => o.requestedAt),
    orders.map((o) => o.rejectReason ?? null),
  ]
}

const INPUT = `unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
  AS t(id, user_id, sale_id, sku, qty, idempotency_key, reservation_expires_at, requested_at, reject_reason)`

/**
 * Persists a batch in one transaction (the caller's client): inserts the orders (a known order id is a
 * no-op, so a redelivered batch changes nothing), takes their units from the inventory's stock ledger with
 * its conditional function — first come, first served, never past the total or the per-user limit — and
 * rejects the orders it could not serve, with the reason. Returns every order of the batch as stored.
 */
export async function persistBatch(client: { query: Database['query'] }, orders: readonly OrderToPersist[]): Promise<OrderStatusView[]> {
  const params = arrays(orders)
  // 1. New orders that may take stock, as confirmed; new orders already refused, as rejected.
  const { rows: inserted } = await client.query<{ id: string }>(
    `INSERT INTO orders.orders (id, user_id, sale_id, sku, qty, idempotency_key, reservation_expires_at, requested_at, status, reason)
     SELECT id, user_id, sale_id, sku, qty, idempotency_key, reservation_expires_at, requested_at,
            CASE WHEN reject_reason IS NULL THEN 'confirmed' ELSE 'rejected' END, reject_reason
       FROM ${INPUT}
      ORDER BY requested_at, id
     ON CONFLICT DO NOTHING
     RETURNING id`,
    params,
  )
  // 2. Take the stock of the newly confirmed ones, inside this transaction.
  const fresh = new Set(inserted.map((r) => r.id))
  const takers = orders.filter((o) => fresh.has(o.orderId) && !o.rejectReason)
  // One call per sale (inventory.commit_units_batch): first come, first served within the sale, and
  // sales in id order, so every batch locks stock rows in the same order and two workers cannot deadlock.
  // Each stock row's lock is held to the end of this transaction.
  const bySale = new Map<string, OrderToPersist[]>()
  for (const o of [...takers].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.orderId.localeCompare(b.orderId))) {
    const list = bySale.get(o.saleId)
    if (list) list.push(o)
    else bySale.set(o.saleId, [o])
  }
  const refused: { id: string; reason: string }[] = []
  for (const saleId of [...bySale.keys()].sort()) {
    const list = bySale.get(saleId) ?? []
    const { rows } = await client.query<{ r: number[] }>('SELECT inventory.commit_units_batch($1, $2, $3) AS r', [
      saleId,
      list.map((o) => o.userId),
      list.map((o) => o.qty),
    ])
    const answers = rows[0]?.r ?? []
    list.forEach((o, i) => {
      const left = answers[i] ?? -1
      if (left < 0) refused.push({ id: o.orderId, reason: left === -2 ? 'limit_reached' : 'sold_out' })
    })
  }
  if (refused.length > 0) {
    await client.query(
      `UPDATE orders.orders o SET status = 'rejected', reason = r.reason, updated_at = now()
         FROM unnest($1::uuid[], $2::text[]) AS r(id, reason) WHERE o.id = r.id`,
      [refused.map((r) => r.id), refused.map((r) => r.reason)],
    )
  }
  // 3. An order neither inserted nor already stored hit the (user, Idempotency-Key) index: a second order
  //    for one request. Record it as rejected so its 202 still ends somewhere.
  await client.query(
    `INSERT INTO orders.orders (id, user_id, sale_id, sku, qty, idempotency_key, reservation_expires_at, requested_at, status, reason)
     SELECT id, user_id, sale_id, sku, qty, idempotency_key, reservation_expires_at, requested_at, 'rejected', 'duplicate_request'
       FROM ${INPUT}
      WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = t.id)
     ON CONFLICT (id) DO NOTHING`,
    params,
  )
  const { rows } = await client.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE id = ANY($1::uuid[])`, [orders.map((o) => o.orderId)])
  return rows.map(toView)
}
