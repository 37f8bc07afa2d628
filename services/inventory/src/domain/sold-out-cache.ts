/**
 * The in-process sold-out short-circuit: once the gate has said a sale has no units left, this instance
 * answers sold_out from memory for `ttlMs` without touching Redis. After the last unit goes, a flash sale's
 * traffic is nearly all doomed attempts; this keeps them off Redis. A release through this instance, or a
 * reconciler pass that finds units, forgets the mark at once; other instances forget it after `ttlMs`, so
 * a returned unit is offered again within that time.
 */
export interface SoldOutCache {
  isSoldOut(saleId: string): boolean
  markSoldOut(saleId: string): void
  forget(saleId: string): void
}

export function createSoldOutCache({ ttlMs, now }: { ttlMs: number; now: () => number }): SoldOutCache {
  // Only sales the gate itself reported sold out get an entry, so the map is bounded by real sales.
  const until = new Map<string, number>()
  return {
    isSoldOut(saleId) {
      const t = until.get(saleId)
      if (t === undefined) return false
      if (now() < t) return true
      until.delete(saleId)
      return false
    },
    markSoldOut(saleId) {
      if (ttlMs > 0) until.set(saleId, now() + ttlMs)
    },
    forget(saleId) {
      until.delete(saleId)
    },
  }
}
