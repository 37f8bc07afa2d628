/** Everything a use case may use, made once by app.ts (or a test) and passed in. */
import type { HotSaleLimiter } from './hot-sale-limiter.ts'
import type { Clock, InventoryMetrics, SaleRepository, StockGate } from './ports.ts'
import type { SoldOutCache } from './sold-out-cache.ts'

/** The slice of a pino logger the use cases need. */
export interface DomainLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface InventorySettings {
  /** The reconciler repairs drift only after this long without gate activity (or while paused). */
  readonly quietMs: number
  /** A rebuild older than this is taken over (its process died). */
  readonly rebuildStaleMs: number
  /** Most expired reservations released per sale per reconciler pass. */
  readonly expireBatch: number
}

export interface InventoryContext {
  readonly sales: SaleRepository
  readonly gate: StockGate
  readonly limiter: HotSaleLimiter
  readonly soldOut: SoldOutCache
  readonly metrics: InventoryMetrics
  readonly clock: Clock
  readonly settings: InventorySettings
  readonly log: DomainLog
}
