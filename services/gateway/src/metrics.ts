/**
 * The gateway's metrics: one for every decision it takes, each with a label that says why. Labels are
 * bounded: upstreams and instances come from the route table, reasons and scopes are fixed words.
 */
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@flashsale/metrics'
import type { AdaptiveLimiter } from '@flashsale/resilience'

export function createGatewayMetrics(registry: Registry) {
  const registers = [registry]
  // Read at scrape time rather than set on every admission decision (two label lookups per request saved).
  type WatchedLimiter = Pick<AdaptiveLimiter, 'limit' | 'inflight' | 'snapshot'>
  const limiters = new Map<string, WatchedLimiter>()
  let stallClock: { stalledMs(): number } | undefined
  let stallReported = 0
  /** A per-upstream gauge read from each watched limiter when /metrics is scraped. */
  const limiterGauge = (name: string, help: string, read: (l: WatchedLimiter) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['upstream'] as const,
      registers,
      collect() {
        for (const [upstream, l] of limiters) this.set({ upstream }, read(l))
      },
    })
  return {
    /** The loop-stall clock, read when /metrics is scraped. */
    watchLoopStall(clock: { stalledMs(): number }) {
      stallClock = clock
      stallReported = clock.stalledMs()
    },
    /** The adaptive limiter of an upstream, read when /metrics is scraped. */
    watchLimiter(upstream: string, limiter: WatchedLimiter) {
      limiters.set(upstream, limiter)
    },
    blocked: new Counter({
      name: 'gateway_blocked_total',
      help: 'Requests refused with 403 by reason (blocklist, bot)',
      labelNames: ['reason'] as const,
      registers,
    }),
    tokenVerifications: new Counter({
      name: 'gateway_token_verifications_total',
      help: 'Bearer tokens checked, by result: hit (verified earlier, before its exp), verified (ES256 verify passed), rejected',
      labelNames: ['result'] as const,
      registers,
    }),
    authRejected: new Counter({
      name: 'gateway_auth_rejected_total',
      help: 'Requests refused with 401 by reason (invalid_token, missing_token)',
      labelNames: ['reason'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused with 429 by scope (ip, user) and which limiter answered (redis, local)',
      labelNames: ['scope', 'source'] as const,
      registers,
    }),
    rateLimitChecks: new Counter({
      name: 'gateway_rate_limit_checks_total',
      help: 'Rate-limit checks by scope and source; source=local means Redis was unreachable (fail-open, ADR 0013)',
      labelNames: ['scope', 'source'] as const,
      registers,
    }),
    botVerdicts: new Counter({
      name: 'gateway_bot_verdicts_total',
      help: 'Bot-score verdicts that were not allow, by action (throttle, block) and the strongest reason',
      labelNames: ['action', 'reason'] as const,
      registers,
    }),
    shed: new Counter({
      name: 'gateway_shed_total',
      help: 'Requests refused with 503 before reaching an upstream, by upstream, priority and reason (limit, queue_full, queue_timeout, shed, circuit_open, no_instance, degraded)',
      labelNames: ['upstream', 'priority', 'reason'] as const,
      registers,
    }),
    admitted: new Counter({
      name: 'gateway_admitted_total',
      help: 'Requests admitted by the adaptive concurrency limit',
      labelNames: ['upstream', 'priority'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'gateway_queue_wait_seconds',
      help: 'Time spent waiting for a concurrency slot, by upstream, priority and outcome',
      labelNames: ['upstream', 'priority', 'outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    concurrencyLimit: limiterGauge('gateway_concurrency_limit', 'Current adaptive concurrency limit per upstream', (l) => l.limit),
    inflight: limiterGauge('gateway_upstream_inflight', 'Requests in flight per upstream', (l) => l.inflight),
    queueLength: limiterGauge('gateway_queue_length', 'Requests waiting for a concurrency slot per upstream, core and non-core together (ADR 0026)', (l) => {
      const s = l.snapshot()
      return s.queuedCore + s.queuedNonCore
    }),
    concurrencyFloor: limiterGauge(
      'gateway_concurrency_floor',
      "The measured-capacity floor under each upstream's limit: twice its bandwidth-delay product (ADR 0026); 0 = not measured",
      (l) => l.snapshot().floor,
    ),
    queueService: limiterGauge(
      'gateway_queue_service_seconds',
      "What deadline admission reserves per upstream call: the smoothed time a slot is held plus 4 mean deviations (RFC 6298's RTO; ADR 0026)",
      (l) => l.snapshot().reserveMs / 1000,
    ),
    queueDrainRate: limiterGauge(
      'gateway_queue_drain_per_second',
      'Upstream calls completed per second lately while requests queued: the rate deadline admission divides the work ahead by (0 = not measured lately; ADR 0026)',
      (l) => l.snapshot().servedPerSecond,
    ),
    breakerState: new Gauge({
      name: 'gateway_breaker_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open, 3 isolated',
      labelNames: ['upstream'] as const,
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'gateway_breaker_transitions_total',
      help: 'Circuit breaker state changes per upstream, by new state',
      labelNames: ['upstream', 'state'] as const,
      registers,
    }),
    retries: new Counter({ name: 'gateway_retries_total', help: 'Retries made per upstream', labelNames: ['upstream'] as const, registers }),
    retryGiveUps: new Counter({
      name: 'gateway_retry_give_ups_total',
      help: 'Failed calls not retried, by upstream and reason (not_idempotent, client_error, not_retryable, max_attempts, budget_exhausted, aborted)',
      labelNames: ['upstream', 'reason'] as const,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'One attempt to an upstream instance as the gateway saw it (its own event-loop delay included), by outcome (2xx..5xx, error, timeout)',
      labelNames: ['upstream', 'upstream_instance', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamOwnDuration: new Histogram({
      name: 'gateway_upstream_own_duration_seconds',
      help: "The upstream's own time for an answer, which the limit, the breaker and degradation judge it by (ADR 0025): source=server_timing (its Server-Timing app;dur) or stall_corrected (round trip less the gateway's event-loop stall)",
      labelNames: ['upstream', 'source'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    loopStall: new Counter({
      name: 'gateway_event_loop_stall_seconds_total',
      help: "Time the gateway's event loop was stalled (callbacks waiting for a busy loop); subtracted from round trips (ADR 0025)",
      registers,
      collect() {
        if (!stallClock) return
        const ms = stallClock.stalledMs()
        this.inc((ms - stallReported) / 1000)
        stallReported = ms
      },
    }),
    soldOutAnswers: new Counter({
      name: 'gateway_sold_out_answers_total',
      help: 'POST /orders answered 409 ORDER_ERR_SOLD_OUT at the edge, without a limiter slot or an upstream call, by when (arrival, after_queue)',
      labelNames: ['when'] as const,
      registers,
    }),
    soldOutMarks: new Counter({
      name: 'gateway_sold_out_marks_total',
      help: 'Sold-out marks of the edge, by change (sold_out, reopened, expired, cleared) and source (published, proxied, resubscribed)',
      labelNames: ['change', 'source'] as const,
      registers,
    }),
    rateLimitFallbacks: new Counter({
      name: 'gateway_rate_limit_fallbacks_total',
      help: 'Rate-limit checks the local limiter answered because Redis failed, by reason: timeout (no answer within RATE_LIMIT_TIMEOUT_MS of responsive time) or error',
      labelNames: ['reason'] as const,
      registers,
    }),
    instanceAvailable: new Gauge({
      name: 'gateway_instance_available',
      help: '1 when the balancer may pick the instance; 0 when ejected',
      labelNames: ['upstream', 'upstream_instance'] as const,
      registers,
    }),
    ejections: new Counter({
      name: 'gateway_instance_ejections_total',
      help: 'Instance ejections by source (health_check, outlier)',
      labelNames: ['upstream', 'upstream_instance', 'source'] as const,
      registers,
    }),
    panicRouted: new Counter({
      name: 'gateway_panic_routed_total',
      help: 'Requests sent to an outlier-ejected instance because every instance was out (panic routing)',
      labelNames: ['upstream'] as const,
      registers,
    }),
    failbacks: new Counter({
      name: 'gateway_instance_failbacks_total',
      help: 'Instances brought back by source (health_check, outlier)',
      labelNames: ['upstream', 'upstream_instance', 'source'] as const,
      registers,
    }),
    degraded: new Gauge({ name: 'gateway_degraded', help: '1 while non-core routes are degraded', registers }),
    degradationMode: new Gauge({ name: 'gateway_degradation_mode', help: '1 for the current mode (auto, on, off)', labelNames: ['mode'] as const, registers }),
    degradationChanges: new Counter({
      name: 'gateway_degradation_changes_total',
      help: 'Entries into (state=degraded) and exits from (state=normal) degradation, by reason',
      labelNames: ['state', 'reason'] as const,
      registers,
    }),
    degradedAnswers: new Counter({
      name: 'gateway_degraded_answers_total',
      help: 'Non-core requests answered while degraded, by answer (stale, unavailable)',
      labelNames: ['answer'] as const,
      registers,
    }),
    // The waiting rooms (waiting-room/): labelled by sale, bounded by the rooms an admin opened.
    roomLength: new Gauge({
      name: 'gateway_waiting_room_length',
      help: "Buyers waiting in a sale's room (holding a place not admitted yet), as this instance last saw it",
      labelNames: ['sale_id'] as const,
      registers,
    }),
    roomRate: new Gauge({
      name: 'gateway_waiting_room_admission_rate',
      help: 'Places per second the whole fleet admits into the sale now (0 while paused)',
      labelNames: ['sale_id'] as const,
      registers,
    }),
    roomPaused: new Gauge({
      name: 'gateway_waiting_room_paused',
      help: '1 while this instance earns no admissions: the gateway is degraded or its order queue refuses',
      labelNames: ['reason'] as const,
      registers,
    }),
    roomAdmitted: new Counter({
      name: 'gateway_waiting_room_admitted_total',
      help: "Places admitted by this instance's advances of the watermark",
      labelNames: ['sale_id'] as const,
      registers,
    }),
    roomTickets: new Counter({
      name: 'gateway_waiting_room_tickets_total',
      help: 'Tickets answered to joins, by outcome (new: a place taken now, existing: the one the buyer held)',
      labelNames: ['sale_id', 'outcome'] as const,
      registers,
    }),
    roomAbandoned: new Counter({
      name: 'gateway_waiting_room_abandoned_total',
      help: 'Places given up before admission (DELETE of the ticket)',
      labelNames: ['sale_id'] as const,
      registers,
    }),
    roomWait: new Histogram({
      name: 'gateway_waiting_room_wait_seconds',
      help: 'From joining to being told of admission, per buyer (observed once, by the instance that told)',
      labelNames: ['sale_id'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    }),
    roomPasses: new Counter({
      name: 'gateway_waiting_room_pass_checks_total',
      help: 'POST /orders to a sale with a room, by pass verdict (ok, missing, malformed, signature, expired, wrong_user, wrong_sale)',
      labelNames: ['verdict'] as const,
      registers,
    }),
    roomHeldPolls: new Gauge({ name: 'gateway_waiting_room_held_polls', help: 'Long polls held open by this instance', registers }),
    loadSignal: new Gauge({
      name: 'gateway_load_signal',
      help: 'The last sampled load signals of automatic degradation (elu, core_p99_seconds, error_rate)',
      labelNames: ['signal'] as const,
      registers,
    }),
  }
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>
