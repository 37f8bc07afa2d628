/**
 * Products, the listing's whitelisted sorts, and the opaque keyset cursor. Pure: no I/O.
 */
export interface Product {
  readonly id: string
  readonly sku: string
  readonly name: string
  readonly category: string
  readonly priceCents: number
  readonly imageUrl: string
  readonly description: string
  /** ISO-8601: products travel through the JSON cache, so dates stay strings end to end. */
  readonly createdAt: string
  readonly updatedAt: string
}

export type NewProduct = Omit<Product, 'createdAt' | 'updatedAt'>
/** The SKU is not changeable: orders, sales and reviews refer to products by it. */
export type ProductChanges = Partial<Omit<Product, 'id' | 'sku' | 'createdAt' | 'updatedAt'>>

/** The only sorts a listing accepts (each has an index on (field, id) and (category, field, id)). */
export const SORT_FIELDS = ['name', 'price', 'created'] as const
export type SortField = (typeof SORT_FIELDS)[number]
export type SortOrder = 'asc' | 'desc'

export interface ListQuery {
  readonly category?: string
  readonly sort: SortField
  readonly order: SortOrder
  readonly limit: number
  /** Where the previous page ended: the sort value and the id of its last product. */
  readonly after?: { readonly value: string | number; readonly id: string }
}

export interface ProductPage {
  readonly products: readonly Product[]
  readonly nextCursor: string | null
}

interface CursorBody {
  s: SortField
  o: SortOrder
  c: string | null
  v: string | number
  i: string
}

export function sortValue(p: Product, sort: SortField): string | number {
  return sort === 'name' ? p.name : sort === 'price' ? p.priceCents : p.createdAt
}

export function encodeCursor(q: Omit<ListQuery, 'limit' | 'after'>, last: Product): string {
  const body: CursorBody = { s: q.sort, o: q.order, c: q.category ?? null, v: sortValue(last, q.sort), i: last.id }
  return Buffer.from(JSON.stringify(body)).toString('base64url')
}

/**
 * The position a cursor encodes, or a reason it is unusable: not ours, or made for another sort, order
 * or category (a cursor only means something in the listing that gave it out).
 */
export function decodeCursor(cursor: string, q: Omit<ListQuery, 'limit' | 'after'>): { value: string | number; id: string } | { problem: string } {
  let body: Partial<CursorBody>
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>
  } catch {
    return { problem: 'not decodable' }
  }
  if (typeof body !== 'object' || body === null || typeof body.i !== 'string') return { problem: 'malformed' }
  if (body.s !== q.sort || body.o !== q.order || (body.c ?? null) !== (q.category ?? null)) return { problem: 'made for another sort, order or category' }
  const okValue = q.sort === 'price' ? Number.isInteger(body.v) : typeof body.v === 'string' && (q.sort !== 'created' || !Number.isNaN(Date.parse(body.v)))
  if (!okValue) return { problem: 'malformed' }
  return { value: body.v as string | number, id: body.i }
}
