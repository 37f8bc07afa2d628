/**
 * The inventory service over HTTP, through the shared service client (@flashsale/service-client: keep-alive
 * pools, a balancer over the instances, a latency budget per call, a circuit breaker judged by the
 * inventory's own time, retries only of what may be sent twice), so a slow or dead stock gate costs a fast
 * 503 instead of a pile of waiting requests. The gate's business answers (sold out, limit reached, 404, 429)
 * are answers, not failures; a 503 with Retry-After is a refusal (ADR 0028), not counted by the breaker;
 * other 5xx, timeouts and connection errors are failures. The answers' types and the refusal codes come
 * from the inventory's contract.
 */
import type { Static } from 'typebox'
import type { ERROR_CODES, ReservationSteps as StepsAnswer, ReserveAnswer, SaleList } from '@flashsale/inventory/contract'
import { parseList } from '@flashsale/config'
import type { Log } from '@flashsale/logging'
import { Gauge, type Registry } from '@flashsale/metrics'
import { BREAKER_STATE_VALUE, type BreakerState, type CircuitBreaker, type CircuitBreakerOptions } from '@flashsale/resilience'
import { createServiceClient, ServiceUnavailable, type ProblemBody } from '@flashsale/service-client'
import type { ClaimOutcome, GateRefusal, ReleaseResult, ReservationSteps, ReserveResult, SaleDirectory, StockGate } from '../domain/ports.ts'

export interface InventoryClientOptions {
  readonly urls: readonly string[]
  readonly timeoutMs: number
  /** Connections per inventory instance. */
  readonly connections?: number
  readonly onBreakerState?: (state: BreakerState) => void
  /** How long the SKU → current sale answer is reused. */
  readonly saleCacheMs?: number
  /** SKUs whose answers are kept (the oldest goes first): the SKU comes from buyers' requests. Default 10,000. */
  readonly saleCacheSkus?: number
  /** Thresholds of the circuit breaker (defaults: > 5% errors, calls >= 500 ms slow; ADR 0014). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'isFailure' | 'durationOf'>
}

export interface InventoryClient extends StockGate, SaleDirectory {
  close(): Promise<void>
  readonly breaker: CircuitBreaker
  /** The worker's steps on reservations, made with its own service credential (an admin-role token). */
  reservationSteps(serviceToken: string): ReservationSteps
}

/** Raised when the gate cannot take a pipeline step now; the worker treats it as an outage and waits. */
export class GateUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'GateUnavailableError'
  }
}

/** The inventory's batch endpoints take at most this many order ids per call. */
const STEP_BATCH = 500

/** The stock gate's refusals, by the inventory's problem code (a typo here fails the type check). */
const REFUSALS: Readonly<Partial<Record<(typeof ERROR_CODES)[number], GateRefusal>>> = {
  INVENTORY_ERR_SOLD_OUT: 'sold_out',
  INVENTORY_ERR_LIMIT_REACHED: 'limit_reached',
  INVENTORY_ERR_NOT_OPEN: 'not_open',
  INVENTORY_ERR_CLOSED: 'closed',
  INVENTORY_ERR_PAUSED: 'paused',
  INVENTORY_ERR_UNKNOWN_SALE: 'unknown_sale',
}
const refusalOf = (body: ProblemBody): GateRefusal | undefined => REFUSALS[String(body.code) as keyof typeof REFUSALS]

export function createInventoryClient({
  urls,
  timeoutMs,
  connections = 64,
  onBreakerState,
  saleCacheMs = 1_000,
  saleCacheSkus = 10_000,
  breaker: thresholds = {},
}: InventoryClientOptions): InventoryClient {
  const inventory = createServiceClient({
    service: 'inventory',
    urls,
    timeoutMs,
    connections,
    breaker: thresholds,
    ...(onBreakerState ? { onBreakerState } : {}),
  })
  // The sale directory (GET /sales) is read from the inventory's PostgreSQL; the gate (reservations) lives in its
  // Redis. One breaker for both let slow directory reads open the circuit of the gate: make chaos-latency-postgres
  // with +1 s on PostgreSQL refused 20% of orders whose reservations answered in 2 ms. A bulkhead: a client and a
  // breaker each, so a failure of one store closes only its own path.
  const directory = createServiceClient({ service: 'inventory', urls, timeoutMs, connections: Math.max(1, Math.ceil(connections / 8)), breaker: thresholds })
  const retryAfterOf = (headers: Readonly<Record<string, string | string[] | undefined>>) => Number(headers['retry-after'] ?? '1') || 1

  type Sale = { saleId: string } | undefined
  const saleCache = new Map<string, { at: number; value: Promise<Sale> }>()
  /** Map.set that keeps at most saleCacheSkus keys, dropping the least recently set. */
  const setBounded = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key)
    map.set(key, value)
    if (map.size > saleCacheSkus) map.delete(map.keys().next().value!)
  }

  return {
    breaker: inventory.breaker,

    async reserve({ saleId, orderId, qty, bearerToken }): Promise<ReserveResult> {
      let res
      try {
        res = await inventory.call<Static<typeof ReserveAnswer> | ProblemBody>('POST', '/reservations', { token: bearerToken, body: { saleId, orderId, qty } })
      } catch (err) {
        // Timeout, connection refused, 5xx, breaker open. A timed-out reserve may have reserved: its
        // reservation expires unclaimed (no order will ever claim this order id).
        return { kind: 'unavailable', retryAfterSeconds: (err instanceof ServiceUnavailable && err.retryAfterSeconds) || 1 }
      }
      if (res.status === 201 || res.status === 200) {
        const { reservation } = res.body as Static<typeof ReserveAnswer>
        return { kind: 'reserved', expiresAt: new Date(reservation.expiresAt) }
      }
      const refusal = refusalOf(res.body as ProblemBody)
      if (refusal) return { kind: 'refused', reason: refusal }
      if (res.status === 429) return { kind: 'unavailable', retryAfterSeconds: retryAfterOf(res.headers) }
      throw new Error(`inventory refused a reservation unexpectedly: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`)
    },

    async release({ orderId, bearerToken }): Promise<ReleaseResult> {
      try {
        const res = await inventory.call<ProblemBody>('DELETE', `/reservations/${encodeURIComponent(orderId)}`, { token: bearerToken })
        if (res.status === 200) return 'released'
        if (res.body.code === 'INVENTORY_ERR_RESERVATION_PERSISTED') return 'persisted'
        return 'failed'
      } catch {
        return 'failed'
      }
    },

    currentSaleOf(sku, now) {
      const cached = saleCache.get(sku)
      if (cached && Date.now() - cached.at < saleCacheMs) return cached.value
      // One lookup per SKU per interval, shared by every concurrent request (a hot SKU is one key).
      const value = directory.get<Static<typeof SaleList>>(`/sales?sku=${encodeURIComponent(sku)}`).then((res): Sale => {
        if (res.status !== 200) throw new Error(`inventory GET /sales answered ${res.status}`)
        const sales = res.body.sales
        const t = now.getTime()
        const current =
          sales.find((s) => s.state !== 'closed' && Date.parse(s.startsAt) <= t && t < Date.parse(s.endsAt)) ??
          sales.find((s) => s.state !== 'closed' && Date.parse(s.startsAt) > t)
        return current ? { saleId: current.id } : undefined
      })
      // No stale-if-error here: a SKU's previous sale standing in for a failed lookup sent the first buyers of
      // the next sale to the old one, sold out (make bench-burst: 9 units unsold, buyers told "sold out" wrongly).
      setBounded(saleCache, sku, { at: Date.now(), value })
      value.catch(() => saleCache.delete(sku))
      return value
    },

    reservationSteps(serviceToken) {
      const step = async (name: 'claim' | 'commit' | 'confirm', orderIds: readonly string[]) => {
        const outcomes = new Map<string, ClaimOutcome>()
        for (let i = 0; i < orderIds.length; i += STEP_BATCH) {
          const chunk = orderIds.slice(i, i + STEP_BATCH)
          let res
          try {
            res = await inventory.call<Static<typeof StepsAnswer>>('POST', `/admin/reservations/${name}`, { token: serviceToken, body: { orderIds: chunk } })
          } catch (err) {
            throw new GateUnavailableError(`inventory ${name} failed: ${(err as Error).message}`, { cause: err })
          }
          if (res.status !== 200) throw new Error(`inventory ${name} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`)
          for (const r of res.body.results) outcomes.set(r.orderId, r.outcome as ClaimOutcome)
        }
        return outcomes
      }
      return {
        claim: (orderIds) => step('claim', orderIds),
        commit: async (orderIds) => void (await step('commit', orderIds)),
        confirm: async (orderIds) => void (await step('confirm', orderIds)),
        async release(orderIds) {
          for (const orderId of orderIds) {
            let res
            try {
              res = await inventory.call<ProblemBody>('DELETE', `/reservations/${encodeURIComponent(orderId)}`, { token: serviceToken })
            } catch (err) {
              throw new GateUnavailableError(`inventory release failed: ${(err as Error).message}`, { cause: err })
            }
            if (res.status !== 200 && res.status !== 404)
              throw new Error(`inventory release of ${orderId} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`)
          }
        },
      }
    },

    close: async () => {
      await Promise.all([inventory.close(), directory.close()])
    },
  }
}

/**
 * The API's inventory client as its config says, with its breaker's state as order_inventory_breaker_state and
 * each change logged: what server.ts used to wire by hand.
 */
export function inventoryClientFor(
  config: {
    readonly INVENTORY_URLS: string
    readonly INVENTORY_TIMEOUT_MS: number
    readonly INVENTORY_BREAKER_FAILURE_RATE: number
    readonly INVENTORY_BREAKER_SLOW_CALL_MS: number
    readonly INVENTORY_BREAKER_MIN_CALLS: number
  },
  { registry, log }: { readonly registry: Registry; readonly log: Pick<Log, 'warn'> },
): InventoryClient {
  const breakerGauge = new Gauge({
    name: 'order_inventory_breaker_state',
    help: 'Circuit to inventory: 0 closed, 1 open, 2 half-open, 3 isolated',
    registers: [registry],
  })
  return createInventoryClient({
    urls: parseList(config.INVENTORY_URLS),
    timeoutMs: config.INVENTORY_TIMEOUT_MS,
    breaker: {
      failureRateThreshold: config.INVENTORY_BREAKER_FAILURE_RATE,
      slowCallMs: config.INVENTORY_BREAKER_SLOW_CALL_MS,
      minimumCalls: config.INVENTORY_BREAKER_MIN_CALLS,
    },
    onBreakerState: (state) => {
      breakerGauge.set(BREAKER_STATE_VALUE[state])
      log.warn({ state }, 'circuit to inventory changed')
    },
  })
}
