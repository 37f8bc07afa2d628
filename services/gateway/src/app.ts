/**
 * buildApp(config, deps) → the gateway as a Fastify instance. It never listens (server.ts does) and makes
 * no clients (they come in `deps`), so tests build it against real Redis and real upstream servers.
 *
 * The pipeline of a proxied request, in order (README has the diagram):
 *   onRequest:   blocklist (403) → token verification (401 for an invalid token) → route auth rule (401)
 *   validation:  the route's JSON schema (400, no upstream touched)
 *   handler:     sold out at the edge (409, order placement) → waiting-room pass (403, order placement for
 *                a sale with a room) → bot score (403 / throttle) → per-IP and
 *                per-user GCRA (429) → degradation (stale / 503) → upstream.call: concurrency limit with
 *                deadline admission (503) → breaker (503) → balancer → retries
 */
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { TokenIssuer, TokenVerifier } from '@flashsale/auth'
import { faultFlags } from '@flashsale/faults'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { chainOf, createFallbackChain, createGcraChain, createLocalLimiter, processLoopStall, type RateLimitPolicy } from '@flashsale/resilience'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import type { Config } from './config.ts'
import type { Blocklist } from './domain/blocklist.ts'
import { createBotScorer } from './domain/bot-score.ts'
import { createDegradation, type Degradation, type DegradationState } from './domain/degradation.ts'
import { createLoadSampler } from './domain/load-sampler.ts'
import { createSoldOutEdge, type SoldOutEdge } from './domain/sold-out-edge.ts'
import { createStaleCache } from './domain/stale-cache.ts'
import { OPENAPI_INFO } from './contract.ts'
import { intake } from './intake.ts'
import { createFunnel } from './funnel.ts'
import { createGatewayMetrics } from './metrics.ts'
import { loadRouteResponses, type RouteTable } from './route-table.ts'
import { adminRoutes } from './routes/admin.ts'
import { adminWaitingRoomRoutes } from './routes/admin-waiting-rooms.ts'
import { demoTokenRoutes } from './routes/demo-token.ts'
import { blocklistGuard } from './plugins/blocklist.ts'
import { bearerAuth } from './plugins/bearer-auth.ts'
import { proxyRoutes } from './routes/proxy.ts'
import { waitingRoomRoutes } from './routes/waiting-room.ts'
import { raiseCapacityFloors, readCapacityFloors } from './upstream/capacity-floors.ts'
import { subscribeStockChannel } from './stock-channel.ts'
import { createUpstream, type Upstream } from './upstream/upstream.ts'
import type { WaitingRooms } from './waiting-room/rooms.ts'
import { createGatewayRooms } from './waiting-room/wiring.ts'

export interface Deps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  /** Rate limits and the blocklist. In production: no offline queue and a short command timeout. */
  readonly redis: Redis
  readonly verifier: TokenVerifier
  /** Present only when demo tokens are enabled (server.ts reads the private key then). */
  readonly issuer?: TokenIssuer | undefined
  readonly routeTable: RouteTable
}

export interface GatewayInternals {
  readonly upstreams: ReadonlyMap<string, Upstream>
  readonly degradation: Degradation
  readonly blocklist: Blocklist
  /** Sold out at the edge; undefined when SOLD_OUT_EDGE_TTL_MS is 0. */
  readonly soldOut: SoldOutEdge | undefined
  /** The waiting rooms; undefined when WAITING_ROOMS_ENABLED is false. */
  readonly rooms: WaitingRooms | undefined
  /** Samples the load signals once and feeds the degradation state machine (the timer calls this). */
  sampleLoad(now?: number): DegradationState
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: GatewayInternals
  }
}

const UNGUARDED = new Set(['/health/live', '/health/ready', '/metrics'])

export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({ ...serviceFastifyOptions(deps.logger), trustProxy: config.TRUST_PROXY })
  const metrics = createGatewayMetrics(deps.metrics.registry)
  // How long our own event loop was stalled: taken out of every round trip the limit, the breaker,
  // degradation and the rate-limit timeout judge an upstream by (ADR 0025).
  const stall = processLoopStall()
  metrics.watchLoopStall(stall)
  await app.register(serviceDefaults, {
    metrics: deps.metrics,
    // The public API: the proxied routes (with what the services behind them answer), and the gateway's own.
    openapi: OPENAPI_INFO,
  })
  // The reference page at /docs: swagger-ui from @fastify/swagger-ui, its assets served by the gateway (no CDN).
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true })
  // 0. The door: a burst is taken first come first served, a bounded number at a time (ADR 0032).
  await app.register(intake, {
    limit: config.INTAKE_LIMIT,
    maxQueue: config.INTAKE_QUEUE,
    defaultBudgetMs: config.INTAKE_DEFAULT_BUDGET_MS,
    exempt: UNGUARDED,
    metrics,
  })

  // 1. Blocklist, before anything else is spent on the request (plugins/blocklist.ts).
  await app.register(blocklistGuard, { redis: deps.redis, metrics, exempt: UNGUARDED })
  const blocklist = app.blocklist
  // 2. Authentication: a token that was sent and did not verify is refused (plugins/bearer-auth.ts).
  await app.register(bearerAuth, {
    verifier: deps.verifier,
    metrics,
    cache: { maxEntries: config.TOKEN_CACHE_ENTRIES, maxTtlMs: config.TOKEN_CACHE_MAX_TTL_MS },
  })
  const invalidToken = app.invalidToken
  // Fault flags for drills: admin-only, shared by every instance through Redis, off by themselves (@flashsale/faults).
  // After the token check (the plugin needs @flashsale/auth): a request with a forged token is refused 401 first.
  await app.register(faultFlags, { service: 'gateway', redis: deps.redis, registry: deps.metrics.registry })

  // 3-4. Rate limits: GCRA in Redis, per IP then per user, both in ONE script call per request (ADR 0022);
  // the local buckets when Redis is down (fail-open, ADR 0013). The local limiter is for an outage of
  // Redis, not for a busy gateway: the timeout counts only our responsive time (ADR 0025).
  const perIpPolicy: RateLimitPolicy = { name: 'per-ip', ratePerPeriod: config.RATE_PER_IP_PER_SECOND, periodMs: 1_000, burst: config.RATE_PER_IP_BURST }
  const perUserPolicy: RateLimitPolicy = {
    name: 'per-user',
    ratePerPeriod: config.RATE_PER_USER_PER_SECOND,
    periodMs: 1_000,
    burst: config.RATE_PER_USER_BURST,
  }
  const localShare = (policy: RateLimitPolicy) => createLocalLimiter({ ...policy, ratePerPeriod: policy.ratePerPeriod / config.GATEWAY_INSTANCES })
  let fallbackLoggedAt = -Infinity
  let fallbacksUnlogged = 0
  const rateLimits = createFallbackChain(
    // batch: the checks of all requests in one event-loop turn share one script call (each still its own chain).
    createGcraChain(deps.redis, [perIpPolicy, perUserPolicy], { keyPrefix: 'gateway:rl:', batch: true }),
    chainOf([localShare(perIpPolicy), localShare(perUserPolicy)]),
    {
      timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
      stall,
      onPrimaryError: (err, reason) => {
        metrics.rateLimitFallbacks.inc({ reason })
        // Every check in flight fails together (5,000 of them in a burst): one line a second, with the count.
        const t = performance.now()
        if (t - fallbackLoggedAt < 1_000) return void fallbacksUnlogged++
        app.log.warn(
          { err, reason, fallbacksSinceLastLine: fallbacksUnlogged },
          reason === 'timeout'
            ? 'rate limits: Redis did not answer in time, the local limiter answers'
            : 'rate limits: Redis unreachable, the local limiter answers',
        )
        fallbackLoggedAt = t
        fallbacksUnlogged = 0
      },
    },
  )

  const bots = createBotScorer({
    windowMs: config.BOT_WINDOW_MS,
    rateThreshold: config.BOT_RATE_THRESHOLD,
    usersThreshold: config.BOT_USERS_THRESHOLD,
    throttleScore: config.BOT_THROTTLE_SCORE,
    blockScore: config.BOT_BLOCK_SCORE,
  })

  // Degradation: state machine + the load signals it samples.
  const degradation = createDegradation({
    enter: { elu: config.DEGRADE_ENTER_ELU, p99Ms: config.DEGRADE_ENTER_P99_MS, errorRate: config.DEGRADE_ENTER_ERROR_RATE },
    leave: { elu: config.DEGRADE_LEAVE_ELU, p99Ms: config.DEGRADE_LEAVE_P99_MS, errorRate: config.DEGRADE_LEAVE_ERROR_RATE },
    enterAfterMs: config.DEGRADE_ENTER_AFTER_MS,
    leaveAfterMs: config.DEGRADE_LEAVE_AFTER_MS,
    onChange: (degraded, reason) => {
      metrics.degraded.set(degraded ? 1 : 0)
      metrics.degradationChanges.inc({ state: degraded ? 'degraded' : 'normal', reason })
      app.log.warn({ degraded, reason }, degraded ? 'degradation: non-core routes switched off' : 'degradation: non-core routes back on')
    },
  })
  const showMode = (mode: string) => {
    for (const m of ['auto', 'on', 'off']) metrics.degradationMode.set({ mode: m }, m === mode ? 1 : 0)
  }
  showMode('auto')
  metrics.degraded.set(0)
  const sampler = createLoadSampler(
    degradation,
    () => deps.metrics.eventLoopUtilization(),
    (sample, state) => {
      metrics.loadSignal.set({ signal: 'elu' }, sample.elu)
      if (sample.coreP99Ms !== undefined) metrics.loadSignal.set({ signal: 'core_p99_seconds' }, sample.coreP99Ms / 1000)
      if (sample.errorRate !== undefined) metrics.loadSignal.set({ signal: 'error_rate' }, sample.errorRate)
      showMode(state.mode)
    },
  )
  const sampleLoad = (now = performance.now()): DegradationState => sampler.sample(now)

  // Sold out at the edge (ADR 0027), told by the inventory's stock channel (stock-channel.ts).
  const soldOut =
    config.SOLD_OUT_EDGE_TTL_MS > 0
      ? createSoldOutEdge({
          ttlMs: config.SOLD_OUT_EDGE_TTL_MS,
          now: () => performance.now(),
          onChange: (change, source, sku) => {
            metrics.soldOutMarks.inc({ change, source })
            // The waiting rooms (made below, before the stock channel can say anything) tell their held polls.
            if (change === 'sold_out' && sku !== undefined) {
              rooms?.soldOut(sku)
              // The buyers already queued for an order slot are answered now, not as slots free up.
              if (placement) upstreams.get(placement.upstream)?.groupsChanged()
            }
          },
        })
      : undefined

  // Order placements wait in the limiter's queue grouped by SKU: of one SKU's waiters only as many as it
  // has units left can still need the order service, so a crowd after the last units is not refused for
  // its size (ADR 0026).
  const groupBound = soldOut ? (sku: string) => soldOut.unitsLeft(sku) : undefined
  // Each upstream's limit starts from the capacity floor the fleet measured last (ADR 0026), if Redis says.
  const floors = config.LIMIT_CAPACITY_FLOOR
    ? await readCapacityFloors(deps.redis).catch((err: unknown): Record<string, number> => {
        app.log.warn({ err }, 'capacity floors: not read from Redis; every limit starts at LIMIT_INITIAL')
        return {}
      })
    : {}
  const upstreams = new Map<string, Upstream>()
  for (const [name, def] of Object.entries(deps.routeTable.upstreams)) {
    upstreams.set(name, createUpstream(name, def, config, metrics, app.log, stall, { groupBound, initialFloor: floors[name] }))
  }
  const upstreamOf = (method: string, path: string) => upstreams.get(deps.routeTable.routes.find((r) => r.method === method && r.path === path)?.upstream ?? '')
  const placement = deps.routeTable.routes.find((r) => r.soldOutEdge)
  // The waiting rooms (ADR 0039): their admission rate comes from the order upstream's measured capacity.
  const rooms: WaitingRooms | undefined = config.WAITING_ROOMS_ENABLED
    ? createGatewayRooms(config, { redis: deps.redis, order: placement && upstreams.get(placement.upstream), degradation, metrics, log: app.log })
    : undefined
  const subscriber = soldOut ? await subscribeStockChannel(deps.redis, soldOut, config.STOCK_CHANNEL, app.log) : undefined

  app.decorate('gateway', {
    upstreams,
    degradation: {
      ...degradation,
      setMode: (mode) => {
        const s = degradation.setMode(mode)
        showMode(s.mode)
        return s
      },
    },
    blocklist,
    soldOut,
    rooms,
    sampleLoad,
  } satisfies GatewayInternals)

  await app.register(adminRoutes, { blocklist, degradation: app.gateway.degradation, upstreams })
  if (deps.issuer) await app.register(demoTokenRoutes, { issuer: deps.issuer, adminSecret: config.DEMO_ADMIN_SECRET })
  const funnel = createFunnel({ rateLimits, bots, botThrottleCost: config.BOT_THROTTLE_COST, metrics })
  const inventory = upstreamOf('GET', '/sales/:id')
  if (rooms && inventory) {
    await app.register(waitingRoomRoutes, { rooms, funnel, soldOut, metrics })
    await app.register(adminWaitingRoomRoutes, { rooms, inventory, passTtlSeconds: config.WAITING_ROOM_PASS_TTL_SECONDS })
  }
  await app.register(proxyRoutes, {
    routes: deps.routeTable.routes,
    serviceResponses: loadRouteResponses(),
    upstreams,
    funnel,
    rooms,
    degradation,
    staleCache: createStaleCache({ maxEntries: config.STALE_CACHE_ENTRIES, ttlMs: config.STALE_CACHE_TTL_MS }),
    soldOut,
    invalidToken,
    metrics,
    observe: (call) => sampler.observe(call),
  })

  const timers: NodeJS.Timeout[] = []
  app.addHook('onReady', async () => {
    for (const u of upstreams.values()) u.startHealthChecks(config.HEALTH_CHECK_INTERVAL_MS)
    rooms?.start()
    if (config.DEGRADE_TICK_MS > 0) timers.push(setInterval(() => sampleLoad(), config.DEGRADE_TICK_MS))
    if (config.LIMIT_CAPACITY_FLOOR) {
      // Best effort: the next tick tries again, and Redis being down is reported by everything else.
      const write = () =>
        raiseCapacityFloors(deps.redis, Object.fromEntries([...upstreams].map(([name, u]) => [name, u.snapshot().limit.floor]))).catch(() => 0)
      timers.push(setInterval(() => void write(), CAPACITY_FLOOR_WRITE_MS))
    }
    for (const t of timers) t.unref()
  })
  // Before the in-flight requests are waited for: the long polls this instance holds answer now (their buyers
  // poll another instance), or they would hold the close for up to their wait.
  app.addHook('preClose', async () => {
    await rooms?.stop()
  })
  app.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t)
    subscriber?.disconnect()
    await Promise.all([...upstreams.values()].map((u) => u.close()))
  })
  return app
}

// The capacity floors each gateway measured (ADR 0026, upstream/capacity-floors.ts), so a new or restarted
// instance starts where the fleet was rather than at a constant. A hint: a missing or unreadable hash only means
// starting at LIMIT_INITIAL.
const CAPACITY_FLOOR_WRITE_MS = 10_000
