/**
 * One upstream service as the gateway sees it: its instances (one undici keep-alive Pool each), a
 * balancer with passive outlier ejection and active health checks, an adaptive concurrency limit with
 * priorities, a circuit breaker and a retry budget. `call` runs a request through them in that order:
 *
 *   limit (admit / queue / shed) → breaker → retry loop [ balancer pick → HTTP attempt ] → release
 *
 * Responses are buffered (they are small JSON): a retry needs the whole answer to decide, the stale cache
 * keeps it, and a 5xx is told apart before the client sees a byte. ADR 0020 has the proxy choice.
 *
 * Every latency-driven decision here judges the upstream by its own time (ADR 0025): the `app;dur` it
 * reports in Server-Timing, or, when it reports none, the round trip less the time this gateway's event
 * loop was stalled meanwhile. Order placement and payment are admitted by deadline (ADR 0026): they wait
 * their turn when their expected wait fits the route's budget and are refused at once when it cannot;
 * other requests wait under CoDel with adaptive LIFO.
 */
import { Pool } from 'undici'
import { createBalancer, createOutlierDetector, type Instance } from '@flashsale/balancer'
import {
  BREAKER_STATE_VALUE,
  DeadlineExceededError,
  circuitBreaker,
  createAdaptiveLimit,
  createFixedLimit,
  createGradient2Limit,
  createRetryBudget,
  createVegasLimit,
  isBrokenCircuitError,
  isDeadlineExceeded,
  isRefusalAnswer,
  jitteredRetryAfterSeconds,
  retryWithBudget,
  type LoopStallClock,
  type Priority,
} from '@flashsale/resilience'
import { SERVER_TIMING_HEADER, serverTimingDuration } from '@flashsale/service-defaults'
import type { Config } from '../config.ts'
import { CircuitOpen, NoInstance, overloaded, UpstreamTimeout, UpstreamUnavailable } from '../errors.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { UpstreamDefinition } from '../route-table.ts'

export interface UpstreamAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
  /** The upstream's own time for this answer, in ms (ADR 0025). */
  readonly upstreamMs: number
}

export interface UpstreamRequest {
  readonly method: string
  /** Path and query, as the client sent them. */
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string | undefined
  readonly clientIp: string
  readonly priority: Priority
  /** When the client's answer is due, on performance.now()'s clock: the route's latency budget from arrival. */
  readonly deadline: number
  /** Wait for a slot by deadline admission (FIFO, refused at once when the wait cannot fit) instead of CoDel. */
  readonly admitByDeadline?: boolean
  readonly retryable: boolean
  /** Called once a slot is granted, before any upstream call; may throw to answer without calling (the slot is given back). */
  readonly admitted?: () => void
  /** What the request competes for, when finite (an order's SKU): see AcquireOptions.group of the limiter. */
  readonly group?: string
}

/** A 5xx answer, thrown inside the retry loop so the loop may retry it and, when the last attempt fails too, the breaker counts it. */
class UpstreamStatusError extends Error {
  readonly status: number
  readonly answer: UpstreamAnswer
  constructor(upstream: string, answer: UpstreamAnswer) {
    super(`${upstream} answered ${answer.status}`)
    this.status = answer.status
    this.answer = answer
  }
}

/** The upstream's own 503 + Retry-After: a refusal it means, not a failure of the instance. */
function isRefusal(e: unknown): boolean {
  return e instanceof UpstreamStatusError && isRefusalAnswer(e.status, e.answer.headers['retry-after'])
}

/**
 * A deadline that ran out while this gateway's event loop, not the upstream, held most of the time: a
 * 504 for the client, but no evidence against the upstream (the breaker does not count it).
 */
class StalledDeadline extends DeadlineExceededError {}

// Hop-by-hop (RFC 9110 §7.6.1) and length headers are the gateway's own business; the upstream's
// Server-Timing is passed on as `upstream;dur=` (the gateway adds its own `app;dur`).
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'upgrade',
  'trailer',
  'te',
  SERVER_TIMING_HEADER,
])

function responseHeaders(raw: Record<string, string | string[] | undefined>, upstreamMs: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || DROPPED_RESPONSE_HEADERS.has(k)) continue
    out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  out[SERVER_TIMING_HEADER] = `upstream;dur=${upstreamMs.toFixed(1)}`
  return out
}

const isNoInstance = (e: unknown) => (e as { code?: string } | null)?.code === NoInstance.code

export interface UpstreamLog {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

export interface UpstreamOptions {
  /** At most how many queued requests of a group can still need this upstream (see UpstreamRequest.group). */
  readonly groupBound?: ((group: string) => number | undefined) | undefined
  /** The capacity floor the fleet measured last (app.ts keeps it in Redis), held until this process measures its own. */
  readonly initialFloor?: number | undefined
}

export function createUpstream(
  name: string,
  def: UpstreamDefinition,
  config: Config,
  metrics: GatewayMetrics,
  log: UpstreamLog,
  stall: LoopStallClock,
  options: UpstreamOptions = {},
) {
  const instances: Instance[] = def.instances.map((url) => {
    const origin = new URL(url).origin
    return { id: new URL(url).host, url: origin, weight: def.weights?.[url] ?? 1 }
  })
  const pools = new Map(
    instances.map((i) => [i.id, new Pool(i.url, { connections: config.UPSTREAM_CONNECTIONS, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 })]),
  )
  const balancer = createBalancer(def.balancing, instances)

  // Two reasons to take an instance out: the active health check, and passive outlier ejection.
  const healthDown = new Set<string>()
  const outlierDown = new Set<string>()
  const sync = (id: string) => {
    const available = !healthDown.has(id) && !outlierDown.has(id)
    balancer.setAvailable(id, available)
    metrics.instanceAvailable.set({ upstream: name, upstream_instance: id }, available ? 1 : 0)
  }
  for (const i of instances) sync(i.id)
  const outliers = createOutlierDetector({
    hosts: instances.map((i) => i.id),
    consecutiveFailures: config.OUTLIER_CONSECUTIVE_FAILURES,
    baseEjectionMs: config.OUTLIER_BASE_EJECTION_MS,
    onEject: (id, info) => {
      outlierDown.add(id)
      sync(id)
      metrics.ejections.inc({ upstream: name, upstream_instance: id, source: 'outlier' })
      log.warn({ upstream: name, instance: id, ms: info.durationMs, times: info.times }, 'instance ejected: consecutive failures')
    },
    onRestore: (id) => {
      outlierDown.delete(id)
      sync(id)
      metrics.failbacks.inc({ upstream: name, upstream_instance: id, source: 'outlier' })
    },
  })

  const algorithm =
    config.LIMIT_ALGORITHM === 'fixed'
      ? createFixedLimit(config.LIMIT_INITIAL)
      : config.LIMIT_ALGORITHM === 'vegas'
        ? createVegasLimit({ initialLimit: config.LIMIT_INITIAL, maxLimit: config.LIMIT_MAX })
        : createGradient2Limit({ initialLimit: config.LIMIT_INITIAL, minLimit: config.LIMIT_MIN, maxLimit: config.LIMIT_MAX })
  const limiter = createAdaptiveLimit({
    algorithm,
    coreQueue: 'deadline',
    ...(options.groupBound ? { groupBound: options.groupBound } : {}),
    // Start and floor from measured capacity (ADR 0026): twice the upstream's bandwidth-delay product.
    ...(config.LIMIT_CAPACITY_FLOOR
      ? { capacityFloor: { windowMs: config.LIMIT_CAPACITY_WINDOW_MS, initial: options.initialFloor ?? 0, max: config.LIMIT_MAX } }
      : {}),
    maxQueue: config.LIMIT_QUEUE,
    nonCoreShare: config.LIMIT_NON_CORE_SHARE,
    onDecision: (d) => {
      metrics.queueWait.observe({ upstream: name, priority: d.priority, outcome: d.admitted ? 'admitted' : 'rejected' }, d.waitedMs / 1000)
      if (d.admitted) metrics.admitted.inc({ upstream: name, priority: d.priority })
      else metrics.shed.inc({ upstream: name, priority: d.priority, reason: d.reason ?? 'limit' })
    },
  })
  metrics.watchLimiter(name, limiter)

  const breaker = circuitBreaker({
    failureRateThreshold: config.BREAKER_FAILURE_RATE,
    slowCallMs: config.BREAKER_SLOW_CALL_MS,
    slowCallRateThreshold: config.BREAKER_SLOW_CALL_RATE,
    minimumCalls: config.BREAKER_MINIMUM_CALLS,
    windowMs: config.BREAKER_WINDOW_MS,
    halfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
    // "No instance" says nothing about the service's answers, nor does a deadline our own stalled event
    // loop used up, nor a 503 with Retry-After: the service answering, fast, that a datastore behind it
    // cannot serve right now (ADR 0028). Opening the circuit on those refused, for its half-open wait, the
    // requests the service served again as soon as a PostgreSQL failover ended (make chaos-primary: 5 s of
    // GATEWAY_ERR_CIRCUIT_OPEN after a 9 s failover). The limiter still hears them as drops. Everything else
    // thrown counts. Slow means slow by the upstream's own time.
    isFailure: (e) => !isNoInstance(e) && !(e instanceof StalledDeadline) && !isRefusal(e),
    durationOf: (answer) => (answer as UpstreamAnswer).upstreamMs,
  })
  metrics.breakerState.set({ upstream: name }, BREAKER_STATE_VALUE[breaker.state])
  breaker.onStateChange((state) => {
    metrics.breakerState.set({ upstream: name }, BREAKER_STATE_VALUE[state])
    metrics.breakerTransitions.inc({ upstream: name, state })
    log.warn({ upstream: name, state }, 'circuit breaker changed state')
  })
  const budget = createRetryBudget({ ratio: config.RETRY_BUDGET_RATIO, minPerSecond: config.RETRY_BUDGET_MIN_PER_SECOND })

  async function attempt(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    const context = { clientIp: request.clientIp }
    let instance = balancer.pick(context)
    if (!instance && outlierDown.size > 0) {
      // Every instance is out and some only for failed calls: keep calling those (Envoy's panic routing)
      // rather than refuse everything for the whole ejection time — with one instance, a few timeouts
      // under load would otherwise be a 30 s outage. An instance failing its health check stays out.
      instance = balancer.pickInPanic(context, (i) => !healthDown.has(i.id))
      if (instance) metrics.panicRouted.inc({ upstream: name })
    }
    if (!instance) throw new NoInstance(name)
    const span = stall.span()
    let ok = false
    let outcome = 'error'
    try {
      const res = await pools.get(instance.id)!.request({
        method: request.method as 'GET',
        path: request.path,
        headers: request.headers,
        body: request.body ?? null,
        signal,
      })
      const body = Buffer.from(await res.body.arrayBuffer())
      outcome = `${Math.floor(res.statusCode / 100)}xx`
      ok = res.statusCode < 500
      const timing = res.headers[SERVER_TIMING_HEADER]
      const reported = serverTimingDuration(Array.isArray(timing) ? timing.join(', ') : timing)
      const upstreamMs = reported ?? Math.max(0, span.responsiveMs())
      metrics.upstreamOwnDuration.observe({ upstream: name, source: reported === undefined ? 'stall_corrected' : 'server_timing' }, upstreamMs / 1000)
      const answer: UpstreamAnswer = { status: res.statusCode, headers: responseHeaders(res.headers, upstreamMs), body, upstreamMs }
      if (!ok) throw new UpstreamStatusError(name, answer)
      return answer
    } catch (err) {
      if (signal.aborted) outcome = 'timeout'
      throw err
    } finally {
      const ms = span.elapsedMs()
      balancer.report(instance, { latencyMs: ms, ok })
      outliers.report(instance.id, ok)
      metrics.upstreamDuration.observe({ upstream: name, upstream_instance: instance.id, outcome }, ms / 1000)
    }
  }

  /** Runs the retry loop; a deadline mostly spent in our own stalled event loop becomes a StalledDeadline. */
  async function attempts(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    const span = stall.span()
    try {
      return await retryWithBudget((s) => attempt(request, s), {
        budget,
        signal,
        idempotent: request.retryable,
        // A refused connection means the instance saw nothing: even POST /orders may go to another one.
        // A reset is not that (the request may have been read), so it is never retried for a POST.
        neverSent: (e) => (e as { code?: string } | null)?.code === 'ECONNREFUSED',
        maxAttempts: config.RETRY_MAX_ATTEMPTS,
        // What is left of the route's budget after the wait for a slot (never less than 1 ms).
        timeoutMs: Math.max(1, request.deadline - performance.now()),
        // A 503 + Retry-After is the service saying when to come back (a datastore behind it cannot serve now):
        // a sibling shares that datastore, and the retry would spend the rest of the budget to end in a 504,
        // a failure to the breaker (make chaos-pool-exhaustion). The refusal goes back to the client as it is.
        isRetryable: (e) => !isNoInstance(e) && !isRefusal(e),
        onRetry: () => metrics.retries.inc({ upstream: name }),
        onGiveUp: (reason) => metrics.retryGiveUps.inc({ upstream: name, reason }),
      })
    } catch (err) {
      if (isDeadlineExceeded(err)) {
        if (span.stalledMs() > span.elapsedMs() / 2) throw new StalledDeadline(err.timeoutMs, { cause: err })
      }
      throw err
    }
  }

  /** The upstream's answer (any status), or a gateway error (503 shed/open/no instance, 504, 502). */
  async function call(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const admission = await limiter.acquire(
      request.priority,
      request.admitByDeadline ? { deadline: request.deadline, ...(request.group === undefined ? {} : { group: request.group }) } : {},
    )
    if (!admission.admitted) throw overloaded(name, name, admission)
    const { permit } = admission
    try {
      request.admitted?.()
    } catch (err) {
      permit.unused()
      throw err
    }
    try {
      // The breaker judges the service by what its clients get: a request that one dead instance failed
      // and the retry on another answered is a success. Instance failures are the balancer's business
      // (outlier ejection, health checks); counting each attempt opened the whole upstream when one of
      // two instances died.
      const answer = await breaker.execute((signal) => attempts(request, signal))
      permit.release(answer.upstreamMs)
      return answer
    } catch (err) {
      if (err instanceof UpstreamStatusError) {
        // The service's own 5xx (a problem+json) goes back to the client as it is; a 503 means it is
        // overloaded, which the limit must hear as a drop.
        permit.release(err.answer.upstreamMs, err.status === 503)
        return err.answer
      }
      if (err instanceof StalledDeadline) {
        permit.ignore() // says nothing about the upstream's capacity
        throw new UpstreamTimeout(name)
      }
      if (isDeadlineExceeded(err)) {
        permit.release(undefined, true)
        throw new UpstreamTimeout(name)
      }
      // No call went out when the circuit was open or no instance was up: the slot served nobody.
      if (isBrokenCircuitError(err) || isNoInstance(err)) permit.unused()
      else permit.ignore()
      if (isBrokenCircuitError(err)) {
        metrics.shed.inc({ upstream: name, priority: request.priority, reason: 'circuit_open' })
        const open = new CircuitOpen(name)
        open.retryAfterSeconds = jitteredRetryAfterSeconds(config.BREAKER_HALF_OPEN_AFTER_MS)
        open.details = { reason: 'circuit_open', upstream: name }
        throw open
      }
      if (isNoInstance(err)) {
        metrics.shed.inc({ upstream: name, priority: request.priority, reason: 'no_instance' })
        const none = err as InstanceType<typeof NoInstance>
        none.retryAfterSeconds = jitteredRetryAfterSeconds(undefined)
        throw none
      }
      log.warn({ upstream: name, err }, 'upstream unreachable')
      throw new UpstreamUnavailable(name)
    }
  }

  // Active health checks: GET /health/ready on every instance; `unhealthy` failures in a row eject it,
  // `healthy` passes bring it back (and end an outlier ejection early, as Envoy does by default).
  const streaks = new Map(instances.map((i) => [i.id, { fails: 0, passes: 0 }]))
  async function checkHealth(): Promise<void> {
    await Promise.all(
      instances.map(async (i) => {
        let healthy = false
        try {
          const res = await pools.get(i.id)!.request({ method: 'GET', path: '/health/ready', signal: AbortSignal.timeout(config.HEALTH_CHECK_TIMEOUT_MS) })
          await res.body.dump()
          healthy = res.statusCode === 200
        } catch {
          // refused, reset or timed out: unhealthy
        }
        const s = streaks.get(i.id)!
        if (healthy) {
          s.fails = 0
          s.passes++
          if (s.passes >= config.HEALTH_HEALTHY_THRESHOLD) {
            if (healthDown.delete(i.id)) {
              sync(i.id)
              metrics.failbacks.inc({ upstream: name, upstream_instance: i.id, source: 'health_check' })
              log.info({ upstream: name, instance: i.id }, 'instance healthy again: failback')
            }
            if (outlierDown.has(i.id)) outliers.restore(i.id)
          }
        } else {
          s.passes = 0
          s.fails++
          if (s.fails >= config.HEALTH_UNHEALTHY_THRESHOLD && !healthDown.has(i.id)) {
            healthDown.add(i.id)
            sync(i.id)
            metrics.ejections.inc({ upstream: name, upstream_instance: i.id, source: 'health_check' })
            log.warn({ upstream: name, instance: i.id }, 'instance failed its health checks: ejected')
          }
        }
      }),
    )
    outliers.sweep()
  }

  let timer: NodeJS.Timeout | undefined
  let checking = false
  return {
    name,
    call,
    checkHealth,
    startHealthChecks(intervalMs: number) {
      if (intervalMs <= 0 || timer) return
      timer = setInterval(() => {
        if (checking) return
        checking = true
        checkHealth().finally(() => (checking = false))
      }, intervalMs)
      timer.unref()
    },
    snapshot() {
      return {
        balancing: balancer.algorithm,
        breaker: breaker.state,
        limit: limiter.snapshot(),
        retryBudget: budget.balance,
        instances: instances.map((i) => ({
          id: i.id,
          url: i.url,
          available: balancer.isAvailable(i.id),
          healthCheckEjected: healthDown.has(i.id),
          outlierEjected: outlierDown.has(i.id),
          inflight: balancer.inflight(i.id),
        })),
      }
    },
    async close() {
      if (timer) clearInterval(timer)
      limiter.close()
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => p.destroy())))
    },
  }
}
export type Upstream = ReturnType<typeof createUpstream>
