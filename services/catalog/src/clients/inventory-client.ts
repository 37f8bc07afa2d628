/**
 * The inventory service's public sale reads over HTTP (GET /sales?sku=, GET /sales/:id), through the shared
 * service client (@flashsale/service-client: pools, a latency budget, a breaker judged by the inventory's own
 * time, retries of these idempotent reads): a slow or dead inventory costs GET /sales/active a fast 503 (or
 * the last cached answer), never a pile of waiting requests. The answers' types are the inventory's contract.
 */
import type { Static } from 'typebox'
import type { SaleList, SaleStatus } from '@flashsale/inventory/contract'
import { createServiceClient, type ServiceClient } from '@flashsale/service-client'
import type { SaleDirectory, SaleSummary } from '../domain/ports.ts'

export interface InventoryClientOptions {
  readonly urls: readonly string[]
  readonly timeoutMs: number
}

export function createInventoryClient({ urls, timeoutMs }: InventoryClientOptions): SaleDirectory & Pick<ServiceClient, 'breaker' | 'close'> {
  const inventory = createServiceClient({ service: 'inventory', urls, timeoutMs, breaker: { failureRateThreshold: 0.5, slowCallMs: timeoutMs } })
  /** The answer of a GET; null for a 404; throws for anything else. */
  async function read<T>(path: string): Promise<T | null> {
    const res = await inventory.get<T>(path)
    if (res.status === 404) return null
    if (res.status !== 200) throw new Error(`inventory GET ${path} answered ${res.status}`)
    return res.body
  }

  return {
    breaker: inventory.breaker,
    close: () => inventory.close(),
    async currentSales(sku, now) {
      const list = await read<Static<typeof SaleList>>(`/sales?sku=${encodeURIComponent(sku)}&limit=10`)
      const current = (list?.sales ?? []).filter((s) => s.state !== 'closed' && Date.parse(s.endsAt) > now)
      const described = await Promise.all(
        current.map(async (s): Promise<SaleSummary | null> => {
          const view = await read<Static<typeof SaleStatus>>(`/sales/${encodeURIComponent(s.id)}`)
          if (!view) return null
          const { id, title, startsAt, endsAt, state } = view.sale
          return { id, sku: view.sale.sku, title, startsAt, endsAt, state, status: view.status, approximateAvailable: view.approximateAvailable }
        }),
      )
      return described.filter((s): s is SaleSummary => s !== null)
    },
  }
}
