/**
 * The catalog over HTTP: product id → SKU (GET /products/:id), through the shared service client
 * (@flashsale/service-client: pools, a latency budget, a breaker judged by the catalog's own time, retries of
 * the idempotent read). The answer's type is the catalog's contract. The SKU is cached by app.ts (a SKU never
 * changes: the catalog refuses to change it), so a review write costs a catalog call once per product per TTL.
 */
import type { Static } from 'typebox'
import type { ProductAnswer } from '@flashsale/catalog/contract'
import { createServiceClient } from '@flashsale/service-client'
import { DirectoryUnavailable, type ProductDirectory } from '../domain/ports.ts'

export function createCatalogClient({ urls, timeoutMs }: { urls: readonly string[]; timeoutMs: number }): ProductDirectory & { close(): Promise<void> } {
  const catalog = createServiceClient({ service: 'catalog', urls, timeoutMs, breaker: { failureRateThreshold: 0.5, slowCallMs: timeoutMs } })
  return {
    async skuOf(productId) {
      const path = `/products/${encodeURIComponent(productId)}`
      let res
      try {
        res = await catalog.get<Static<typeof ProductAnswer>>(path)
      } catch (err) {
        throw new DirectoryUnavailable(`catalog: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      if (res.status === 404) return undefined
      if (res.status !== 200) throw new DirectoryUnavailable(`catalog GET ${path} answered ${res.status}`)
      return res.body.product.sku
    },
    close: () => catalog.close(),
  }
}
