/**
 * The inventory service over HTTP: keep-alive connection pools (undici), a latency budget per call, and a
 * circuit breaker, so a slow or dead stock gate costs a fast 503 instead of a pile of waiting requests.
 * The gate's business answers (sold out, limit reached, 404, 429) are not failures for the breaker;
 * 5xx, timeouts and connection errors are. Several instances are used round-robin.
 */
import { Agent, request } from 'undici'
import {
  circuitBreaker,
  isBrokenCircuitError,
  isRefusalAnswer,
  withTimeout,
  type BreakerState,
  type CircuitBreaker,
  type CircuitBreakerOptions,
} from '@flashsale/resilience'
import type { ClaimOutcome, ReservationSteps } from '../domain/persist-orders.ts'
import type { GateRefusal, ReleaseResult, ReserveResult, SaleDirectory, StockGate } from '../domain/ports.ts'

export interface InventoryClientOptions {
  readonly urls: readonly string[]
  readonly timeoutMs: number
  /** Connections per inventory instance. */
  readonly connections?: number
  readonly onBreakerState?: (state: BreakerState) => void
  /** How long the SKU → current sale answer is reused. */
  readonly saleCacheMs?: number
  /** Thresholds of the circuit breaker (defaults: > 5% errors, calls >= 500 ms slow; ADR 0014). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'isFailure'>
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

class UpstreamFailure extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UpstreamFailure'
  }
}

/**
 * A 503 with Retry-After: the inventory is up and says a datastore behind it cannot serve right now (ADR
 * 0028). It fails the call like any 5xx, but the breaker does not count it: the instance is answering, fast,
 * and opening the circuit would refuse for seconds the calls it would serve as soon as its datastore is back
 * (a PostgreSQL or Redis failover takes seconds; the circuit's half-open wait is longer).
 */
class UpstreamRefusal extends UpstreamFailure {}

const REFUSALS: Readonly<Record<string, GateRefusal>> = {
  INVENTORY_ERR_SOLD_OUT: 'sold_out',
  INVENTORY_ERR_LIMIT_REACHED: 'limit_reached',
  INVENTORY_ERR_NOT_OPEN: 'not_open',
  INVENTORY_ERR_CLOSED: 'closed',
  INVENTORY_ERR_PAUSED: 'paused',
  INVENTORY_ERR_UNKNOWN_SALE: 'unknown_sale',
}

interface SaleJson {
  readonly id: string
  readonly startsAt: string
  readonly endsAt: string
  readonly state: string
}

export function createInventoryClient({
  urls,
  timeoutMs,
  connections = 64,
  onBreakerState,
  saleCacheMs = 1_000,
  breaker: thresholds = {},
}: InventoryClientOptions): InventoryClient {
  if (urls.length === 0) throw new Error('at least one inventory URL is needed')
  const agent = new Agent({ connections, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 })
  // Only infrastructure failures trip it; a refusal is the gate working.
  const breaker = circuitBreaker({ ...thresholds, isFailure: (err) => !isBrokenCircuitError(err) && !(err instanceof UpstreamRefusal) })
  if (onBreakerState) breaker.onStateChange(onBreakerState)
  let cursor = 0
  const nextUrl = () => urls[cursor++ % urls.length] as string

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, bearerToken: string | undefined, body?: unknown) {
    return breaker.execute(() =>
      withTimeout(async (signal) => {
        const res = await request(`${nextUrl()}${path}`, {
          method,
          dispatcher: agent,
          signal,
          headers: {
            accept: 'application/json',
            ...(bearerToken ? { authorization: `Bearer ${bearerToken}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        const text = await res.body.text()
        if (res.statusCode >= 500) {
          const Failure = isRefusalAnswer(res.statusCode, res.headers['retry-after']) ? UpstreamRefusal : UpstreamFailure
          throw new Failure(`inventory ${method} ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`)
        }
        const json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
        return { status: res.statusCode, json, retryAfter: Number(res.headers['retry-after'] ?? '1') || 1 }
      }, timeoutMs),
    )
  }

  const saleCache = new Map<string, { at: number; value: Promise<{ saleId: string } | undefined> }>()

  return {
    breaker,

    async reserve({ saleId, orderId, qty, bearerToken }): Promise<ReserveResult> {
      let res
      try {
        res = await call('POST', '/reservations', bearerToken, { saleId, orderId, qty })
      } catch {
        // Timeout, connection refused, 5xx, breaker open. A timed-out reserve may have reserved: its
        // reservation expires unclaimed (no order will ever claim this order id).
        return { kind: 'unavailable', retryAfterSeconds: 1 }
      }
      if (res.status === 201 || res.status === 200) {
        const reservation = res.json['reservation'] as { expiresAt: string }
        return { kind: 'reserved', expiresAt: new Date(reservation.expiresAt) }
      }
      const refusal = REFUSALS[String(res.json['code'])]
      if (refusal) return { kind: 'refused', reason: refusal }
      if (res.status === 429) return { kind: 'unavailable', retryAfterSeconds: res.retryAfter }
      throw new Error(`inventory refused a reservation unexpectedly: ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`)
    },

    async release({ orderId, bearerToken }): Promise<ReleaseResult> {
      try {
        const res = await call('DELETE', `/reservations/${encodeURIComponent(orderId)}`, bearerToken)
        if (res.status === 200) return 'released'
        if (res.json['code'] === 'INVENTORY_ERR_RESERVATION_PERSISTED') return 'persisted'
        return 'failed'
      } catch {
        return 'failed'
      }
    },

    currentSaleOf(sku, now) {
      const cached = saleCache.get(sku)
      if (cached && Date.now() - cached.at < saleCacheMs) return cached.value
      // One lookup per SKU per interval, shared by every concurrent request (a hot SKU is one key).
      const value = call('GET', `/sales?sku=${encodeURIComponent(sku)}`, undefined).then((res) => {
        if (res.status !== 200) throw new Error(`inventory GET /sales answered ${res.status}`)
        const sales = (res.json['sales'] ?? []) as SaleJson[]
        const t = now.getTime()
        const current =
          sales.find((s) => s.state !== 'closed' && Date.parse(s.startsAt) <= t && t < Date.parse(s.endsAt)) ??
          sales.find((s) => s.state !== 'closed' && Date.parse(s.startsAt) > t)
        return current ? { saleId: current.id } : undefined
      })
      saleCache.set(sku, { at: Date.now(), value })
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
            res = await call('POST', `/admin/reservations/${name}`, serviceToken, { orderIds: chunk })
          } catch (err) {
            throw new GateUnavailableError(`inventory ${name} failed: ${(err as Error).message}`, { cause: err })
          }
          if (res.status === 503) throw new GateUnavailableError(`inventory ${name}: gate unavailable`)
          if (res.status !== 200) throw new Error(`inventory ${name} answered ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`)
          for (const r of res.json['results'] as { orderId: string; outcome: ClaimOutcome }[]) outcomes.set(r.orderId, r.outcome)
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
              res = await call('DELETE', `/reservations/${encodeURIComponent(orderId)}`, serviceToken)
            } catch (err) {
              throw new GateUnavailableError(`inventory release failed: ${(err as Error).message}`, { cause: err })
            }
            if (res.status === 503) throw new GateUnavailableError('inventory release: gate unavailable')
            if (res.status !== 200 && res.status !== 404)
              throw new Error(`inventory release of ${orderId} answered ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`)
          }
        },
      }
    },

    close: () => agent.close(),
  }
}
