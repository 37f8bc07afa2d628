/**
 * Sold out at the edge: which SKUs have nothing left, so POST /orders for them is answered 409 at once,
 * with no limiter slot and no upstream call. Once a flash sale's stock is gone nearly all its traffic is
 * doomed attempts; answering them here keeps them off the order path and gives buyers the answer in
 * microseconds instead of a place in a queue (ADR 0027).
 *
 * Where marks come from:
 * - `published`: the inventory's stock gate publishes every change of a sale's availability on a Redis
 *   channel; reaching zero marks (sold out), anything above reopens (units back: a cancellation, a payment
 *   timeout, a restock), so every gateway instance learns within milliseconds, both ways;
 * - `proxied`: a 409 ORDER_ERR_SOLD_OUT this gateway passed on for a one-unit order (one unit refused
 *   means none left; "3 asked, 2 left" says nothing for the next buyer).
 * How wrong it can be: a mark is answered for at most `ttlMs` after it was made unless renewed; a lost
 * "units back" message (the subscription was down) therefore withholds returned units for at most `ttlMs`.
 * While the subscription is down no mark is trusted at all (`clear`), and after it is back marks come
 * only from new messages and proxied answers.
 *
 * The levels in between (`unitsLeft`) are only a hint for the order queue's estimate of how many waiters
 * of a SKU can still need the order service (ADR 0026); no buyer is ever answered from them.
 *
 * Pure: no Redis, no clock of its own (app.ts wires the subscription).
 */

export type SoldOutSource = 'published' | 'proxied'

/** One stock message of the inventory's channel. */
export interface StockMessage {
  readonly sku: string
  readonly saleId: string
  readonly available: number
}

export interface SoldOutEdge {
  /** The sale the SKU is sold out in while the mark holds, else undefined (let the request through). */
  soldOutSale(sku: string): string | undefined
  /**
   * Units the SKU had left at its last stock message (0 while sold out), or undefined when nothing is known.
   * A hint for queueing estimates, never an answer to a buyer: it may be a message behind.
   */
  unitsLeft(sku: string): number | undefined
  markSoldOut(sku: string, saleId: string, source: SoldOutSource): void
  /** Applies a message of the stock channel: available 0 marks, anything above reopens and is remembered. */
  apply(message: StockMessage): void
  /** Forgets every mark and level (the subscription was lost: a reopen may be missed). */
  clear(): void
  readonly size: number
}

export interface SoldOutEdgeOptions {
  /** Longest a mark is answered for without being renewed. */
  readonly ttlMs: number
  /** Marks kept at most (the oldest goes first); bounded by real sales in practice. */
  readonly maxEntries?: number
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number
  /** Every change; `sku` is the SKU that changed (undefined when every mark was cleared). */
  readonly onChange?: (change: 'sold_out' | 'reopened' | 'expired' | 'cleared', source: SoldOutSource | 'resubscribed', sku?: string) => void
}

/** A stock message, or undefined when the payload is not one (never trust a channel blindly). */
export function parseStockMessage(payload: string): StockMessage | undefined {
  let m: unknown
  try {
    m = JSON.parse(payload)
  } catch {
    return undefined
  }
  const { sku, saleId, available } = (m ?? {}) as Record<string, unknown>
  if (typeof sku !== 'string' || sku === '' || typeof saleId !== 'string' || typeof available !== 'number' || !Number.isFinite(available)) return undefined
  return { sku, saleId, available }
}

export function createSoldOutEdge({ ttlMs, maxEntries = 10_000, now, onChange }: SoldOutEdgeOptions): SoldOutEdge {
  const marks = new Map<string, { saleId: string; until: number }>()
  // Units left per SKU from the last stock message (the gate publishes every change), oldest first.
  const levels = new Map<string, number>()
  const remember = (sku: string, available: number) => {
    levels.delete(sku)
    levels.set(sku, available)
    if (levels.size > maxEntries) levels.delete(levels.keys().next().value!)
  }
  return {
    soldOutSale(sku) {
      const m = marks.get(sku)
      if (m === undefined) return undefined
      if (now() < m.until) return m.saleId
      marks.delete(sku)
      onChange?.('expired', 'published', sku)
      return undefined
    },
    markSoldOut(sku, saleId, source) {
      const fresh = !marks.has(sku)
      marks.delete(sku)
      marks.set(sku, { saleId, until: now() + ttlMs })
      if (marks.size > maxEntries) marks.delete(marks.keys().next().value!)
      if (fresh) onChange?.('sold_out', source, sku)
    },
    unitsLeft(sku) {
      return this.soldOutSale(sku) !== undefined ? 0 : levels.get(sku)
    },
    apply({ sku, saleId, available }) {
      remember(sku, Math.max(0, available))
      if (available <= 0) return this.markSoldOut(sku, saleId, 'published')
      if (marks.delete(sku)) onChange?.('reopened', 'published', sku)
    },
    clear() {
      levels.clear()
      if (marks.size === 0) return
      marks.clear()
      onChange?.('cleared', 'resubscribed')
    },
    get size() {
      return marks.size
    },
  }
}
