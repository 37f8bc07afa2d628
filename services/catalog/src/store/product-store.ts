/**
 * catalog.products in Postgres. The cache loader (get) and writes use the primary; lists and lookups by
 * SKU use the replicas through @flashsale/db's router (the primary inside a writer's window). While the
 * primary is unreachable the cache loader reads a replica instead: nothing can be written meanwhile, so a
 * replica is as fresh as anything there is (ADR 0028).
 */
import { withTransaction, type Database } from '@flashsale/db'
import { isDependencyUnavailable } from '@flashsale/resilience'
import { ProductIdTaken, SkuTaken, type ProductRepository } from '../domain/ports.ts'
import type { ListQuery, Product } from '../domain/product.ts'

const COLUMNS = 'id, sku, name, category, price_cents, image_url, description, created_at, updated_at'
/** The whitelisted sorts, mapped to columns here and nowhere else: no user text ever reaches ORDER BY. */
/** The cache loader's one statement (tests count its executions with pg_stat_statements). */
export const PRODUCT_BY_ID_SQL = `SELECT ${COLUMNS} FROM catalog.products WHERE id = $1`
const SORT_COLUMN = { name: 'name', price: 'price_cents', created: 'created_at' } as const

interface ProductRow {
  id: string
  sku: string
  name: string
  category: string
  price_cents: number
  image_url: string
  description: string
  created_at: Date
  updated_at: Date
}

export function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    category: row.category,
    priceCents: row.price_cents,
    imageUrl: row.image_url,
    description: row.description,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }
}

const uniqueViolation = (err: unknown): string | undefined => {
  const e = err as { code?: string; constraint?: string } | null
  return e?.code === '23505' ? (e.constraint ?? '') : undefined
}

export function createProductStore(db: Database): ProductRepository {
  return {
    async get(id) {
      let rows: ProductRow[]
      try {
        ;({ rows } = await db.query<ProductRow>(PRODUCT_BY_ID_SQL, [id]))
      } catch (err) {
        if (!isDependencyUnavailable(err)) throw err
        ;({ rows } = await db.read<ProductRow>(PRODUCT_BY_ID_SQL, [id]))
      }
      return rows[0] ? toProduct(rows[0]) : null
    },

    async list(q: ListQuery, reader) {
      const column = SORT_COLUMN[q.sort]
      const direction = q.order === 'asc' ? 'ASC' : 'DESC'
      const params: unknown[] = []
      const where: string[] = []
      if (q.category !== undefined) {
        params.push(q.category)
        where.push(`category = $${params.length}`)
      }
      if (q.after) {
        params.push(q.sort === 'created' ? new Date(q.after.value as string) : q.after.value, q.after.id)
        where.push(`(${column}, id) ${q.order === 'asc' ? '>' : '<'} ($${params.length - 1}, $${params.length})`)
      }
      params.push(q.limit)
      const sql = `SELECT ${COLUMNS} FROM catalog.products ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ${column} ${direction}, id ${direction} LIMIT $${params.length}`
      const { rows } = await db.read<ProductRow>(sql, params, reader ? { userId: reader } : {})
      return rows.map(toProduct)
    },

    async bySkus(skus) {
      const { rows } = await db.read<ProductRow>(`SELECT ${COLUMNS} FROM catalog.products WHERE sku = ANY($1::text[])`, [skus])
      return rows.map(toProduct)
    },

    async newestIds(n) {
      const { rows } = await db.read<{ id: string }>('SELECT id FROM catalog.products ORDER BY created_at DESC, id DESC LIMIT $1', [n])
      return rows.map((r) => r.id)
    },

    async *allIds() {
      // From the primary: the existence filter must hold every id (a Bloom filter may say "maybe" wrongly,
      // never "no"), and a replica behind by a moment would leave the newest products out, answered 404.
      let after = ''
      for (;;) {
        const { rows } = await db.query<{ id: string }>('SELECT id FROM catalog.products WHERE id > $1 ORDER BY id LIMIT 10000', [after])
        for (const r of rows) yield r.id
        if (rows.length < 10_000) return
        after = (rows.at(-1) as { id: string }).id
      }
    },

    async create(p, beforeCommit) {
      try {
        return await withTransaction(db.primary, async (tx) => {
          const { rows } = await tx.query<ProductRow>(
            `INSERT INTO catalog.products (id, sku, name, category, price_cents, image_url, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
            [p.id, p.sku, p.name, p.category, p.priceCents, p.imageUrl, p.description],
          )
          if (beforeCommit) await beforeCommit()
          return toProduct(rows[0] as ProductRow)
        })
      } catch (err) {
        const constraint = uniqueViolation(err)
        if (constraint === 'products_pkey') throw new ProductIdTaken(p.id)
        if (constraint !== undefined) throw new SkuTaken(p.sku)
        throw err
      }
    },

    async update(id, c) {
      const { rows } = await db.query<ProductRow>(
        `UPDATE catalog.products SET
           name = coalesce($2, name), category = coalesce($3, category), price_cents = coalesce($4, price_cents),
           image_url = coalesce($5, image_url), description = coalesce($6, description), updated_at = date_trunc('milliseconds', now())
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, c.name ?? null, c.category ?? null, c.priceCents ?? null, c.imageUrl ?? null, c.description ?? null],
      )
      return rows[0] ? toProduct(rows[0]) : null
    },

    markWrite: (userId) => db.markWrite(userId),
  }
}
