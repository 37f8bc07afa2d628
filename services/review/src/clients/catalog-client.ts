/**
 * The catalog over HTTP: product id → SKU (GET /products/:id), behind a latency budget and a circuit
 * breaker (@flashsale/resilience). The answer is cached by app.ts (a SKU never changes: the catalog
 * refuses to change it), so a review write costs a catalog call once per product per TTL.
 */
import { circuitBreaker } from '@flashsale/resilience'
import { DirectoryUnavailable, type ProductDirectory } from '../domain/ports.ts'

export function createCatalogClient({ urls, timeoutMs }: { urls: readonly string[]; timeoutMs: number }): ProductDirectory {
  if (urls.length === 0) throw new Error('CATALOG_URLS is empty')
  const breaker = circuitBreaker({ failureRateThreshold: 0.5, slowCallMs: timeoutMs })
  let next = 0
  return {
    skuOf: (productId) =>
      breaker
        .execute(async (signal) => {
          const base = urls[next++ % urls.length] as string
          const res = await fetch(new URL(`/products/${encodeURIComponent(productId)}`, base), {
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
          })
          if (res.status === 404) return undefined
          if (!res.ok) throw new Error(`catalog GET /products/${productId} answered ${res.status}`)
          const body = (await res.json()) as { product?: { sku?: unknown } }
          if (typeof body.product?.sku !== 'string') throw new Error('catalog answered without a sku')
          return body.product.sku
        })
        .catch((err: unknown) => {
          throw new DirectoryUnavailable(`catalog: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
        }),
  }
}
