/**
 * One upstream service as the gateway sees it (the Upstream interface): its instances (instances.ts: one
 * undici keep-alive Pool each, a balancer with passive outlier ejection and active health checks), and here
 * the call path: an adaptive concurrency limit with priorities, a circuit breaker and a retry budget. `call`
 * runs a request through them in that order (what a call carries and how it fails: answer.ts):
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
import {
  BREAKER_STATE_VALUE,
  circuitBreaker,
  createAdaptiveLimit,
  createFixedLimit,
  createGradient2Limit,
  createRetryBudget,
  createVegasLimit,
  isBrokenCircuitError,
  isDeadlineExceeded,
  jitteredRetryAfterSeconds,
  retryWithBudget,
  type BreakerState,
  type LimiterSnapshot,
  type LoopStallClock,
  type Priority,
} from '@flashsale/resilience'
import { SERVER_TIMING_HEADER, serverTimingDuration } from '@flashsale/service-defaults'
import type { Config } from '../config.ts'
import { CircuitOpen, NoInstance, overloaded, UpstreamTimeout, UpstreamUnavailable } from '../errors.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { UpstreamDefinition } from '../route-table.ts'
import { isNoInstance, isRefusal, responseHeaders, StalledDeadline, UpstreamStatusError, type UpstreamAnswer, type UpstreamRequest } from './answer.ts'
import { createInstances, type InstanceSnapshot } from './instances.ts'

export type { UpstreamAnswer, UpstreamRequest } from './answer.ts'

/** One upstream service, as the proxy and the admin routes use it. */
export interface Upstream {
  readonly name: string
  /** The upstream's answer (any status), or a gateway error (503 shed/open/no instance, 504, 502). */
  call(request: UpstreamRequest): Promise<UpstreamAnswer>
  /**
   * Throws the 503 its queue would answer at once to a request without a deadline (no free slot, and it
   * would be shed or could not be served within the queue's target), so a doomed request costs the gateway
   * no more work: checked before the rate limits' Redis round trip.
   */
  refuseIfOverloaded(priority: Priority): void
  /** A group's bound changed (a SKU sold out): its queued requests get their answer now, without a slot. */
  groupsChanged(): void
  checkHealth(): Promise<void>
  startHealthChecks(intervalMs: number): void
  snapshot(): {
    readonly balancing: string
    readonly breaker: BreakerState
    readonly limit: LimiterSnapshot
    readonly retryBudget: number
    readonly instances: InstanceSnapshot[]
  }
  close(): Promise<void>
}

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
): Upstream {
  const pool = createInstances(name, def, config, metrics, log)

  const algorithm =
    config.LIMIT_ALGORITHM === 'fixed'
      ? createFixedLimit(config.LIMIT_INITIAL)
      : config.LIMIT_ALGORITHM === 'vegas'
        ? createVegasLimit({ initialLimit: config.LIMIT_INITIAL, maxLimit: config.LIMIT_MAX })
        : createGradient2Limit({ initialLimit: config.LIMIT_INITIAL, minLimit: config.LIMIT_MIN, maxLimit: config.LIMIT_MAX })
  const limiter = createAdaptiveLimit({
    algorithm,
    coreQueue: 'deadline',
    // A sale's remaining units may all be in flight at once, beyond the limit, up to twice it and LIMIT_MAX (ADR 0041).
    ...(options.groupBound ? { groupBound: options.groupBound, groupAllowanceMax: config.LIMIT_MAX } : {}),
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
    const instance = pool.pick({ clientIp: request.clientIp })
    if (!instance) throw new NoInstance(name)
    const span = stall.span()
    let ok = false
    let outcome = 'error'
    try {
      const res = await pool.pool(instance).request({
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
      pool.report(instance, ms, ok)
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

  return {
    name,
    call,
    groupsChanged: () => limiter.groupsChanged(),
    refuseIfOverloaded(priority) {
      const refusal = limiter.refusedNow(priority)
      if (refusal) throw overloaded(name, name, refusal)
    },
    checkHealth: () => pool.checkHealth(),
    startHealthChecks: (intervalMs) => pool.startHealthChecks(intervalMs),
    snapshot: () => ({
      balancing: pool.algorithm,
      breaker: breaker.state,
      limit: limiter.snapshot(),
      retryBudget: budget.balance,
      instances: pool.snapshot(),
    }),
    async close() {
      limiter.close()
      await pool.close()
    },
  }
}
