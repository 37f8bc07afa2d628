/**
 * One client for calls between services (order → inventory, catalog → inventory, review → catalog), built
 * from what the gateway's upstream pipeline already uses:
 * - undici connection pools, one per instance (keep-alive), and a balancer over the instances
 *   (@flashsale/balancer; round-robin by default);
 * - a latency budget per call, for all its attempts together;
 * - a circuit breaker (@flashsale/resilience) that opens for what the callee does: its 5xx, its connection
 *   errors and timeouts, and its own slow time (the `Server-Timing: app;dur` it reports, ADR 0025), never
 *   for a 4xx (an answer) or a 503 with Retry-After (a refusal: it is up and says a datastore behind it is
 *   not, ADR 0028);
 * - retries of idempotent calls (GET) on another instance, within a retry budget; a call the callee never
 *   saw (connection refused) is retried whatever its method.
 *
 * Answers below 500 come back as `{ status, body }`, the body typed by the caller from the callee's contract
 * (`import type { … } from '@flashsale/<service>/contract'`): a 404 or a 409 is the callee's business. What
 * it could not answer throws `ServiceUnavailable` with a `kind` and, when the callee said, `retryAfterSeconds`.
 */
import { Pool } from 'undici'
import { createBalancer, type AlgorithmName, type Instance } from '@flashsale/balancer'
import {
  circuitBreaker,
  createRetryBudget,
  isBrokenCircuitError,
  isDeadlineExceeded,
  isRefusalAnswer,
  retryWithBudget,
  type BreakerState,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type RetryBudgetOptions,
} from '@flashsale/resilience'
import { SERVER_TIMING_HEADER, serverTimingDuration } from '@flashsale/service-defaults'

export interface ServiceClientOptions {
  /** The callee's name, for messages ("inventory"). */
  readonly service: string
  readonly urls: readonly string[]
  /** Budget of one call, all attempts together. */
  readonly timeoutMs: number
  /** Connections per instance. Default 64. */
  readonly connections?: number
  /** Default round-robin. */
  readonly balancing?: AlgorithmName
  /** Breaker thresholds (defaults: ADR 0014's > 5% errors, half of the calls >= 500 ms). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'isFailure' | 'durationOf'>
  readonly onBreakerState?: (state: BreakerState) => void
  /** Retries of idempotent calls: at most this many attempts (default 2), within the budget (default 10% + 10/s). */
  readonly maxAttempts?: number
  readonly retryBudget?: RetryBudgetOptions
}

export interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined
  /** Sent as JSON. */
  readonly body?: unknown
  /** May be sent twice (default: GET and DELETE are, POST is not). */
  readonly idempotent?: boolean
}

export interface ServiceAnswer<T> {
  readonly status: number
  /** The parsed JSON body ({} when empty): the contract's type for a success, a problem for a 4xx. */
  readonly body: T
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** The problem+json body of a 4xx (RFC 9457), as every service answers it. */
export interface ProblemBody {
  readonly code?: string
  readonly title?: string
  readonly status?: number
  readonly [member: string]: unknown
}

export type UnavailableKind = 'timeout' | 'unreachable' | 'server_error' | 'refused' | 'circuit_open'

/** The callee could not answer: down, slow, failing, refusing for now (503 + Retry-After), or the circuit is open. */
export class ServiceUnavailable extends Error {
  readonly kind: UnavailableKind
  readonly retryAfterSeconds: number | undefined
  readonly status: number | undefined
  constructor(message: string, kind: UnavailableKind, extra: { retryAfterSeconds?: number; status?: number; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    this.name = 'ServiceUnavailable'
    this.kind = kind
    this.retryAfterSeconds = extra.retryAfterSeconds
    this.status = extra.status
  }
}

export interface ServiceClient {
  call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options?: CallOptions): Promise<ServiceAnswer<T>>
  get<T>(path: string, options?: Omit<CallOptions, 'body'>): Promise<ServiceAnswer<T>>
  readonly breaker: CircuitBreaker
  close(): Promise<void>
}

interface Answered<T> extends ServiceAnswer<T> {
  /** The callee's own time (Server-Timing), for the breaker's slow-call judgement. */
  readonly ownMs: number | undefined
}

export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const { service, urls, timeoutMs, connections = 64, balancing = 'round-robin', maxAttempts = 2 } = options
  if (urls.length === 0) throw new Error(`${service}: at least one instance URL is needed`)
  const instances: Instance[] = urls.map((url) => ({ id: new URL(url).host, url: new URL(url).origin }))
  const pools = new Map(instances.map((i) => [i.id, new Pool(i.url, { connections, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 })]))
  const balancer = createBalancer(balancing, instances)
  const budget = createRetryBudget(options.retryBudget)
  const breaker = circuitBreaker({
    ...options.breaker,
    // A refusal or an open circuit says nothing new about the callee; everything else thrown is its failure.
    isFailure: (err) => !isBrokenCircuitError(err) && !(err instanceof ServiceUnavailable && err.kind === 'refused'),
    durationOf: (value, elapsedMs) => (value as Answered<unknown>).ownMs ?? elapsedMs,
  })
  if (options.onBreakerState) breaker.onStateChange(options.onBreakerState)

  async function attempt<T>(method: string, path: string, callOptions: CallOptions, signal: AbortSignal): Promise<Answered<T>> {
    const instance = balancer.pick()
    if (!instance) throw new ServiceUnavailable(`${service}: no instance available`, 'unreachable')
    const started = performance.now()
    let ok = false
    try {
      const res = await pools.get(instance.id)!.request({
        method: method as 'GET',
        path,
        signal,
        headers: {
          accept: 'application/json',
          ...(callOptions.token ? { authorization: `Bearer ${callOptions.token}` } : {}),
          ...(callOptions.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: callOptions.body === undefined ? null : JSON.stringify(callOptions.body),
      })
      const text = await res.body.text()
      if (res.statusCode >= 500) {
        const retryAfter = res.headers['retry-after']
        const refused = isRefusalAnswer(res.statusCode, retryAfter)
        throw new ServiceUnavailable(`${service} ${method} ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`, refused ? 'refused' : 'server_error', {
          status: res.statusCode,
          ...(refused ? { retryAfterSeconds: Number(retryAfter) || 1 } : {}),
        })
      }
      ok = true
      const timing = res.headers[SERVER_TIMING_HEADER]
      return {
        status: res.statusCode,
        body: (text ? JSON.parse(text) : {}) as T,
        headers: res.headers,
        ownMs: serverTimingDuration(Array.isArray(timing) ? timing.join(', ') : timing),
      }
    } finally {
      balancer.report(instance, { latencyMs: performance.now() - started, ok })
    }
  }

  async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, callOptions: CallOptions = {}): Promise<ServiceAnswer<T>> {
    try {
      const answered = await breaker.execute((signal) =>
        retryWithBudget((s) => attempt<T>(method, path, callOptions, s), {
          budget,
          signal,
          idempotent: callOptions.idempotent ?? (method === 'GET' || method === 'DELETE'),
          // A refused connection means the instance saw nothing: any call may go to another one.
          neverSent: (e) => (e as { code?: string } | null)?.code === 'ECONNREFUSED',
          maxAttempts,
          timeoutMs,
          // A refusal is an answer for now (the callee says when to come back); a 4xx never reaches here.
          isRetryable: (e) => !(e instanceof ServiceUnavailable && e.kind === 'refused'),
        }),
      )
      return { status: answered.status, body: answered.body, headers: answered.headers }
    } catch (err) {
      if (err instanceof ServiceUnavailable) throw err
      if (isBrokenCircuitError(err)) throw new ServiceUnavailable(`${service}: circuit open`, 'circuit_open', { cause: err })
      if (isDeadlineExceeded(err)) throw new ServiceUnavailable(`${service} ${method} ${path}: no answer within ${timeoutMs} ms`, 'timeout', { cause: err })
      throw new ServiceUnavailable(`${service} ${method} ${path}: ${err instanceof Error ? err.message : String(err)}`, 'unreachable', { cause: err })
    }
  }

  return {
    call,
    get: (path, callOptions) => call('GET', path, callOptions),
    breaker,
    close: async () => void (await Promise.all([...pools.values()].map((p) => p.close()))),
  }
}
