/**
 * A buyer's order history, newest first, paged by a keyset cursor on (created_at, id): stable while new
 * orders arrive, and each page costs an index range scan however deep the buyer pages (no OFFSET).
 * Read from the replicas: non-core, so the gateway may degrade it under load (docs/architecture.md).
 */
import type { OrderContext, OrderStatusView } from './ports.ts'

export interface HistoryCursor {
  /** ISO-8601 UTC with microseconds, as stored. */
  readonly createdAt: string
  readonly id: string
}

export interface HistoryPage {
  readonly orders: readonly (OrderStatusView & { readonly createdAt: string })[]
  readonly next: HistoryCursor | undefined
}

export type ListOrdersDeps = Pick<OrderContext, 'history'>

const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The opaque cursor a page hands out: base64url of JSON [createdAt, id]. */
export function encodeCursor(cursor: HistoryCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url')
}

/** undefined for anything that is not a cursor this service made. */
export function decodeCursor(text: string): HistoryCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (!Array.isArray(value) || value.length !== 2) return undefined
    const [createdAt, id] = value as unknown[]
    if (typeof createdAt !== 'string' || !CREATED_AT.test(createdAt) || Number.isNaN(Date.parse(createdAt))) return undefined
    if (typeof id !== 'string' || !UUID.test(id)) return undefined
    return { createdAt, id }
  } catch {
    return undefined
  }
}

export type ListOrdersResult =
  { readonly kind: 'page'; readonly orders: HistoryPage['orders']; readonly nextCursor: string | null } | { readonly kind: 'bad_cursor' }

export async function listOrders(
  ctx: ListOrdersDeps,
  userId: string,
  { limit, cursor }: { limit: number; cursor?: string | undefined },
): Promise<ListOrdersResult> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor)
  if (cursor !== undefined && !after) return { kind: 'bad_cursor' }
  const page = await ctx.history.history(userId, limit, after)
  return { kind: 'page', orders: page.orders, nextCursor: page.next ? encodeCursor(page.next) : null }
}
