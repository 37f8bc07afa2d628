/**
 * The seed's bulk upsert: one INSERT ... SELECT FROM unnest(arrays) per batch (one round trip and one plan
 * for thousands of rows), idempotent: a row that is already identical is not touched (its updated_at and
 * cache entry stay), a changed one is updated. Returns the ids that were inserted or changed.
 */
import type { Queryable } from '@flashsale/db'
import type { NewProduct } from '../domain/product.ts'

const UPSERT = `
INSERT INTO catalog.products (id, sku, name, category, price_cents, image_url, description)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
ON CONFLICT (id) DO UPDATE SET
  sku = EXCLUDED.sku, name = EXCLUDED.name, category = EXCLUDED.category, price_cents = EXCLUDED.price_cents,
  image_url = EXCLUDED.image_url, description = EXCLUDED.description, updated_at = date_trunc('milliseconds', now())
WHERE (products.sku, products.name, products.category, products.price_cents, products.image_url, products.description)
  IS DISTINCT FROM (EXCLUDED.sku, EXCLUDED.name, EXCLUDED.category, EXCLUDED.price_cents, EXCLUDED.image_url, EXCLUDED.description)
RETURNING id`

export async function upsertProducts(pool: Queryable, products: readonly NewProduct[], batchSize = 2_000): Promise<string[]> {
  const changed: string[] = []
  for (let start = 0; start < products.length; start += batchSize) {
    const batch = products.slice(start, start + batchSize)
    const { rows } = await pool.query<{ id: string }>(UPSERT, [
      batch.map((p) => p.id),
      batch.map((p) => p.sku),
      batch.map((p) => p.name),
      batch.map((p) => p.category),
      batch.map((p) => p.priceCents),
      batch.map((p) => p.imageUrl),
      batch.map((p) => p.description),
    ])
    for (const r of rows) changed.push(r.id)
  }
  return changed
}
