/**
 * What the catalog's use cases need from the outside, as interfaces: Postgres (src/store/product-store.ts),
 * the cache (@flashsale/cache, wired in app.ts) and the inventory service (src/clients/inventory-client.ts).
 */
import type { Log } from '@flashsale/logging'
import type { ListQuery, NewProduct, Product, ProductChanges } from './product.ts'

export interface ProductRepository {
  /** From the primary: the cache's loader (a load from a lagging replica would cache an old row; cache README). */
  get(id: string): Promise<Product | null>
  /** From a replica, or the primary for a user inside their read-your-own-writes window. */
  list(q: ListQuery, reader?: string): Promise<Product[]>
  /** Products of these SKUs, from a replica. */
  bySkus(skus: readonly string[]): Promise<Product[]>
  /** Ids of the newest products (cache warming). */
  newestIds(n: number): Promise<string[]>
  /** Every id, streamed in pages (the Bloom filter's rebuild). */
  allIds(): AsyncIterable<string>
  /** Inserts in one transaction; `beforeCommit` runs inside it (the Bloom filter add). Throws ProductIdTaken / SkuTaken. */
  create(p: NewProduct, beforeCommit?: () => Promise<void>): Promise<Product>
  /** null when there is no such product. */
  update(id: string, changes: ProductChanges): Promise<Product | null>
  /** After a commit: `userId`'s reads go to the primary for the window. */
  markWrite(userId: string): Promise<void>
}

export class ProductIdTaken extends Error {
  constructor(id: string) {
    super(`product ${id} exists`)
    this.name = 'ProductIdTaken'
  }
}

export class SkuTaken extends Error {
  constructor(sku: string) {
    super(`sku ${sku} is taken`)
    this.name = 'SkuTaken'
  }
}

/** The product cache (cache-aside, @flashsale/cache) as the use cases see it. */
export interface ProductCache {
  get(id: string, load: (id: string) => Promise<Product | undefined>): Promise<Product | undefined>
  /** Delete-on-write, after the commit. */
  invalidate(id: string): Promise<void>
  /** Tells the existence filter about a new id (before the commit, so no reader is ever told it does not exist). */
  remember(id: string): Promise<void>
}

/** A sale as the inventory service describes it publicly. */
export interface SaleSummary {
  readonly id: string
  readonly sku: string
  readonly title: string
  readonly startsAt: string
  readonly endsAt: string
  readonly state: string
  /** open / not_open / closed / paused / unavailable: the gate's view at the time of the read. */
  readonly status: string
  /** Units left per the stock gate in Redis at the time of the read: approximate by nature. */
  readonly approximateAvailable: number | null
}

export interface SaleDirectory {
  /** The sales of a SKU whose window contains `now`, with their status and approximate units left. */
  currentSales(sku: string, now: number): Promise<SaleSummary[]>
}

/** The sales cache: one entry per SKU, short TTL, serves the last answer while the inventory is down. */
export interface SalesCache {
  get(sku: string, load: (sku: string) => Promise<SaleSummary[] | undefined>): Promise<SaleSummary[] | undefined>
}

export interface CatalogContext {
  readonly products: ProductRepository
  readonly productCache: ProductCache
  readonly sales: SaleDirectory
  readonly salesCache: SalesCache
  readonly featuredSkus: readonly string[]
  readonly now: () => number
  readonly log: Log
}
