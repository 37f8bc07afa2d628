/**
 * The Postgres side: inventory.sales, inventory.stock and inventory.user_units. Administration and the
 * reconciler read the primary (they act on what they read); public reads go to the replicas.
 */
import { withTransaction, type Database } from '@flashsale/db'
import { SaleAlreadyExists, TotalBelowSold, type SaleRepository } from '../domain/ports.ts'
import type { Sale, SaleChanges, SaleState } from '../domain/sale.ts'

const COLUMNS = 'id, sku, title, total_units, per_user_limit, starts_at, ends_at, reservation_ttl_seconds, state, created_at, updated_at'

interface SaleRow {
  id: string
  sku: string
  title: string
  total_units: number
  per_user_limit: number
  starts_at: Date
  ends_at: Date
  reservation_ttl_seconds: number
  state: SaleState
  created_at: Date
  updated_at: Date
}

function toSale(row: SaleRow): Sale {
  return {
    id: row.id,
    sku: row.sku,
    title: row.title,
    totalUnits: row.total_units,
    perUserLimit: row.per_user_limit,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    reservationTtlSeconds: row.reservation_ttl_seconds,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const sqlState = (err: unknown): string | undefined => (err as { code?: string } | null)?.code
const constraintOf = (err: unknown): string | undefined => (err as { constraint?: string } | null)?.constraint

export interface SaleStoreOptions {
  /** How long "this sale exists" is remembered (the gate's missing-state path asks on every attempt). */
  readonly existsTtlMs?: number
  /** How long "no such sale" is remembered. */
  readonly missingTtlMs?: number
  readonly now?: () => number
}

export function createSaleStore(db: Database, { existsTtlMs = 60_000, missingTtlMs = 1_000, now = Date.now }: SaleStoreOptions = {}): SaleRepository {
  // Bounded: ids come from request bodies. Insertion order lets the oldest go first.
  const existence = new Map<string, { exists: boolean; until: number }>()
  const remember = (id: string, exists: boolean) => {
    existence.delete(id)
    existence.set(id, { exists, until: now() + (exists ? existsTtlMs : missingTtlMs) })
    if (existence.size > 10_000) existence.delete(existence.keys().next().value as string)
  }

  return {
    async create(sale) {
      try {
        return await withTransaction(db.primary, async (tx) => {
          const { rows } = await tx.query<SaleRow>(
            `INSERT INTO inventory.sales (id, sku, title, total_units, per_user_limit, starts_at, ends_at, reservation_ttl_seconds)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
            [sale.id, sale.sku, sale.title, sale.totalUnits, sale.perUserLimit, sale.startsAt, sale.endsAt, sale.reservationTtlSeconds],
          )
          await tx.query('INSERT INTO inventory.stock (sale_id, total) VALUES ($1, $2)', [sale.id, sale.totalUnits])
          remember(sale.id, true)
          return toSale(rows[0] as SaleRow)
        })
      } catch (err) {
        if (sqlState(err) === '23505') throw new SaleAlreadyExists(sale.id)
        throw err
      }
    },

    async get(id) {
      const { rows } = await db.query<SaleRow>(`SELECT ${COLUMNS} FROM inventory.sales WHERE id = $1`, [id])
      return rows[0] ? toSale(rows[0]) : null
    },

    async readSale(id) {
      const { rows } = await db.read<SaleRow>(`SELECT ${COLUMNS} FROM inventory.sales WHERE id = $1`, [id])
      return rows[0] ? toSale(rows[0]) : null
    },

    async listBySku(sku, limit) {
      const { rows } = await db.read<SaleRow>(`SELECT ${COLUMNS} FROM inventory.sales WHERE sku = $1 ORDER BY starts_at DESC LIMIT $2`, [sku, limit])
      return rows.map(toSale)
    },

    async exists(id) {
      const known = existence.get(id)
      if (known && known.until > now()) return known.exists
      const { rowCount } = await db.query('SELECT 1 FROM inventory.sales WHERE id = $1', [id])
      const exists = (rowCount ?? 0) > 0
      remember(id, exists)
      return exists
    },

    async update(id, changes: SaleChanges, beforeCommit) {
      try {
        return await withTransaction(db.primary, async (tx) => {
          const found = await tx.query<SaleRow>(`SELECT ${COLUMNS} FROM inventory.sales WHERE id = $1 FOR UPDATE`, [id])
          if (!found.rows[0]) return null
          const before = toSale(found.rows[0])
          const { rows } = await tx.query<SaleRow>(
            `UPDATE inventory.sales SET
               title = coalesce($2, title), total_units = coalesce($3, total_units), per_user_limit = coalesce($4, per_user_limit),
               starts_at = coalesce($5, starts_at), ends_at = coalesce($6, ends_at),
               reservation_ttl_seconds = coalesce($7, reservation_ttl_seconds), updated_at = now()
             WHERE id = $1 RETURNING ${COLUMNS}`,
            [
              id,
              changes.title ?? null,
              changes.totalUnits ?? null,
              changes.perUserLimit ?? null,
              changes.startsAt ?? null,
              changes.endsAt ?? null,
              changes.reservationTtlSeconds ?? null,
            ],
          )
          const after = toSale(rows[0] as SaleRow)
          if (after.totalUnits !== before.totalUnits) {
            await tx.query('UPDATE inventory.stock SET total = $2 WHERE sale_id = $1', [id, after.totalUnits])
          }
          if (beforeCommit) await beforeCommit(before, after)
          return after
        })
      } catch (err) {
        if (sqlState(err) === '23514' && constraintOf(err) === 'stock_sold_check') throw new TotalBelowSold(id)
        throw err
      }
    },

    async setState(id, from, to) {
      const { rows } = await db.query<SaleRow>(
        `UPDATE inventory.sales SET state = $3, updated_at = now() WHERE id = $1 AND state = ANY($2::text[]) RETURNING ${COLUMNS}`,
        [id, from, to],
      )
      return rows[0] ? toSale(rows[0]) : null
    },

    async listOpen() {
      const { rows } = await db.query<SaleRow>(`SELECT ${COLUMNS} FROM inventory.sales WHERE state <> 'closed' ORDER BY starts_at`)
      return rows.map(toSale)
    },

    async stock(id) {
      const { rows } = await db.query<{ total: number; sold: number }>('SELECT total, sold FROM inventory.stock WHERE sale_id = $1', [id])
      return rows[0] ? { total: rows[0].total, sold: rows[0].sold } : null
    },

    async userUnits(id) {
      const { rows } = await db.query<{ user_id: string; units: number }>('SELECT user_id, units FROM inventory.user_units WHERE sale_id = $1 AND units > 0', [
        id,
      ])
      return new Map(rows.map((r) => [r.user_id, r.units]))
    },
  }
}
