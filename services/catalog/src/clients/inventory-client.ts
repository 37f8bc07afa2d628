/**
 * The inventory service's public sale reads over HTTP (GET /sales?sku=, GET /sales/:id), behind a
 * latency budget per call and a circuit breaker (@flashsale/resilience): a slow or dead inventory costs
 * GET /sales/active a fast 503 (or the last cached answer), never a pile of waiting requests.
 * Instances are used round-robin. 4xx are answers, not failures.
 */
import { circuitBreaker, type CircuitBreaker } from '@flashsale/resilience'
import type { SaleDirectory, SaleSummary } from '../domain/ports.ts'

interface SaleJson {
  id: string
  sku: string
  title: string
  startsAt: string
  endsAt: string
  state: string
}

export interface InventoryClientOptions {
  readonly urls: readonly string[]
  readonly timeoutMs: number
}

export function createInventoryClient({ urls, timeoutMs }: InventoryClientOptions): SaleDirectory & { readonly breaker: CircuitBreaker } {
  if (urls.length === 0) throw new Error('INVENTORY_URLS is empty')
  const breaker = circuitBreaker({ failureRateThreshold: 0.5, slowCallMs: timeoutMs })
  let next = 0
  const getJson = <T>(path: string): Promise<T | null> =>
    breaker.execute(async (signal) => {
      const base = urls[next++ % urls.length] as string
      const res = await fetch(new URL(path, base), { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })
      if (res.status === 404) return null
      if (!res.ok) throw new Error(`inventory ${path} answered ${res.status}`)
      return (await res.json()) as T
    })

  return {
    breaker,
    async currentSales(sku, now) {
      const list = await getJson<{ sales: SaleJson[] }>(`/sales?sku=${encodeURIComponent(sku)}&limit=10`)
      const current = (list?.sales ?? []).filter((s) => s.state !== 'closed' && Date.parse(s.endsAt) > now)
      const described = await Promise.all(
        current.map(async (s): Promise<SaleSummary | null> => {
          const view = await getJson<{ sale: SaleJson; status: string; approximateAvailable: number | null }>(`/sales/${encodeURIComponent(s.id)}`)
          if (!view) return null
          const { id, title, startsAt, endsAt, state } = view.sale
          return { id, sku: view.sale.sku, title, startsAt, endsAt, state, status: view.status, approximateAvailable: view.approximateAvailable }
        }),
      )
      return described.filter((s): s is SaleSummary => s !== null)
    },
  }
}
