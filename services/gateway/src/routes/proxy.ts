/**
 * The proxied routes, one Fastify route per row of the route table. By the time a handler runs, the
 * onRequest hooks (app.ts) have checked the blocklist and the token, and Fastify has validated params,
 * query, headers and body against the row's schema (400 before any upstream is touched). Here: the
 * route's own auth rule, rate limits, bot score, degradation, then the upstream's call pipeline.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthRouteConfig } from '@flashsale/auth'
import { formatRateLimit, formatRateLimitPolicy, type RateLimitChain, type RateLimitPolicy, type RateLimitResult } from '@flashsale/resilience'
import type { BotScorer } from '../domain/bot-score.ts'
import type { Degradation } from '../domain/degradation.ts'
import type { SoldOutEdge } from '../domain/sold-out-edge.ts'
import type { IntakeRouteConfig } from '../intake.ts'
import type { StaleCache } from '../domain/stale-cache.ts'
import { proxiedResponses } from '../contract.ts'
import { BotBlocked, Degraded, RateLimited, SoldOutAtEdge } from '../errors.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { RouteDefinition } from '../route-table.ts'
import type { Upstream } from '../upstream/upstream.ts'

export interface ProxyRoutesOptions {
  readonly routes: readonly RouteDefinition[]
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** Per-IP then per-user GCRA, checked in one Redis script call per request (ADR 0022). */
  readonly rateLimits: RateLimitChain
  readonly bots: BotScorer
  readonly botThrottleCost: number
  readonly degradation: Degradation
  readonly staleCache: StaleCache
  /** Sold out at the edge, for routes with `soldOutEdge` (ADR 0027); undefined = switched off. */
  readonly soldOut?: SoldOutEdge | undefined
  /** What the service behind each route answers, keyed "METHOD /path" (route-responses.json), for the OpenAPI document. */
  readonly serviceResponses: Readonly<Record<string, Record<string, never>>>
  /** The 401 for a token that was sent and did not verify (app.ts), for the routes that authenticate late. */
  readonly invalidToken: (request: FastifyRequest, reply: FastifyReply) => Error | undefined
  readonly metrics: GatewayMetrics
  /**
   * Load signals for automatic degradation: the upstream's own time for answers of core routes (ADR 0025;
   * undefined when there was no answer), and upstream call outcomes.
   */
  readonly observe: (sample: { core: boolean; upstreamMs: number | undefined; upstreamFailed: boolean | undefined }) => void
}

// Only these request headers reach a service. Identity travels only as the Authorization header, which
// the service verifies itself (ADR 0019); a client's x-user-id or similar never gets through.
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-language', 'authorization', 'content-type', 'idempotency-key', 'if-none-match', 'user-agent']

function forwardHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of FORWARDED_REQUEST_HEADERS) {
    const v = request.headers[h]
    if (typeof v === 'string') out[h] = v
  }
  out['x-request-id'] = String(request.id)
  out['x-forwarded-for'] = request.ip
  out['x-forwarded-proto'] = request.protocol
  return out
}

function soldOutFailure(saleId: string, sku: string) {
  const err = new SoldOutAtEdge(saleId)
  err.details = { saleId, sku }
  return err
}

/** The saleId of a 409 ORDER_ERR_SOLD_OUT problem the order service answered, else undefined. */
function soldOutSaleOf(body: Buffer): string | undefined {
  try {
    const problem = JSON.parse(body.toString('utf8')) as { code?: unknown; saleId?: unknown }
    return problem.code === SoldOutAtEdge.code && typeof problem.saleId === 'string' ? problem.saleId : undefined
  } catch {
    return undefined
  }
}

function rateLimitFailure(scope: string, policy: RateLimitPolicy, result: RateLimitResult) {
  const err = new RateLimited(scope)
  err.retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
  err.details = { scope, policy: policy.name }
  return err
}

export async function proxyRoutes(app: FastifyInstance, opts: ProxyRoutesOptions): Promise<void> {
  const { upstreams, rateLimits, bots, degradation, staleCache, soldOut, metrics } = opts
  const SCOPES = ['ip', 'user'] as const
  // RateLimit-Policy is the same for every answer of a policy: formatted once.
  const policyHeaders = new Map<string, string>()
  const policyHeader = (policy: RateLimitPolicy): string => {
    let h = policyHeaders.get(policy.name)
    if (h === undefined) policyHeaders.set(policy.name, (h = formatRateLimitPolicy(policy)))
    return h
  }

  async function checkRate(ip: string, ipCost: number, userId: string | undefined, reply: FastifyReply) {
    const verdicts = await rateLimits.check([{ key: ip, cost: ipCost }, userId ? { key: userId } : undefined])
    let last: { scope: (typeof SCOPES)[number]; policy: RateLimitPolicy; result: RateLimitResult } | undefined
    for (const { index, result } of verdicts) {
      const scope = SCOPES[index === 0 ? 0 : 1]
      // The fleet's policy, also when the local fallback (at rate / GATEWAY_INSTANCES) answered.
      const policy = rateLimits.policies[index]!
      metrics.rateLimitChecks.inc({ scope, source: result.source })
      last = { scope, policy, result }
    }
    if (!last) return
    // Several policies: the one that refuses (or the user's, the tighter) speaks in the headers. (Retry-After
    // of a refusal comes with the 429 from the error handler.)
    reply.header('ratelimit-policy', policyHeader(last.policy)).header('ratelimit', formatRateLimit(last.policy, last.result))
    if (!last.result.allowed) {
      metrics.rateLimited.inc({ scope: last.scope, source: last.result.source })
      throw rateLimitFailure(last.scope, last.policy, last.result)
    }
  }

  for (const route of opts.routes) {
    const upstream = upstreams.get(route.upstream)!
    const core = route.priority === 'core'
    const edge = route.soldOutEdge ? soldOut : undefined
    app.route({
      method: route.method,
      url: route.path,
      schema: {
        ...(route.schema ?? {}),
        summary: `${route.method} ${route.path} (${route.upstream} service)`,
        tags: [route.upstream],
        security: route.auth === 'user' ? [{ bearerAuth: [] }] : [],
        response: proxiedResponses(route, opts.serviceResponses[`${route.method} ${route.path}`]),
      },
      // A route answered sold out at the edge checks the token's signature only for the buyers it lets through.
      ...(route.auth === 'user' && !edge ? { onRequest: app.requireUser } : {}),
      config: {
        budgetMs: route.timeoutMs,
        priority: route.priority,
        byDeadline: route.queue === 'deadline',
        authenticateLate: edge !== undefined,
      } satisfies IntakeRouteConfig & AuthRouteConfig,
      handler: async (request, reply) => {
        // The route's latency budget runs from arrival (the door, intake.ts): the wait there, rate limits and
        // the wait for an upstream slot all spend it.
        const deadline = request.deadline

        // Sold out at the edge (ADR 0027): first, so a doomed attempt costs no signature check (the token's shape
        // was checked, and one must be there), no Redis call and no slot. Sold out is public (GET /sales/:id
        // says it), so answering it before knowing who asks tells nobody anything. Checked again once a
        // queued request gets its slot.
        const order = edge ? (request.body as { sku: string; qty: number }) : undefined
        const soldOutNow = () => (order ? edge!.soldOutSale(order.sku) : undefined)
        if (edge) {
          if (route.auth === 'user' && request.headers.authorization === undefined) await app.requireUser(request, reply)
          const soldOutAtArrival = soldOutNow()
          if (soldOutAtArrival !== undefined) {
            metrics.soldOutAnswers.inc({ when: 'arrival' })
            throw soldOutFailure(soldOutAtArrival, order!.sku)
          }
          await app.authenticate(request)
          const invalid = opts.invalidToken(request, reply)
          if (invalid) throw invalid
          if (route.auth === 'user') await app.requireUser(request, reply)
        }
        const userId = request.user?.userId

        // Bot score before rate limits: a blocked client should not even spend rate-limit quota.
        const verdict = bots.observe({ ip: request.ip, userId, hasUserAgent: !!request.headers['user-agent'], hasAccept: !!request.headers['accept'] })
        if (verdict.action !== 'allow') metrics.botVerdicts.inc({ action: verdict.action, reason: verdict.reasons[0] ?? 'unknown' })
        if (verdict.action === 'block') {
          metrics.blocked.inc({ reason: 'bot' })
          const err = new BotBlocked(verdict.reasons.join(', '))
          err.details = { score: verdict.score, reasons: verdict.reasons }
          throw err
        }

        await checkRate(request.ip, verdict.action === 'throttle' ? opts.botThrottleCost : 1, userId, reply)

        if (!core && degradation.state().degraded) {
          const stale = request.method === 'GET' ? staleCache.recall(userId, request.url) : undefined
          if (stale) {
            metrics.degradedAnswers.inc({ answer: 'stale' })
            return reply
              .code(stale.status)
              .headers(stale.headers)
              .header('age', String(Math.floor((Date.now() - stale.storedAt) / 1000)))
              .header('x-gateway-degraded', 'stale')
              .send(stale.body)
          }
          metrics.degradedAnswers.inc({ answer: 'unavailable' })
          metrics.shed.inc({ upstream: route.upstream, priority: route.priority, reason: 'degraded' })
          const err = new Degraded()
          err.retryAfterSeconds = 5
          err.details = { degraded: true, reason: degradation.state().reason }
          throw err
        }

        let upstreamFailed: boolean | undefined
        let upstreamMs: number | undefined
        // From here the upstream's own queue decides: the door lets the next request in.
        request.leaveIntake()
        try {
          const answer = await upstream.call({
            method: request.method,
            path: request.url,
            headers: forwardHeaders(request),
            body: request.body === undefined || request.body === null ? undefined : JSON.stringify(request.body),
            clientIp: request.ip,
            priority: route.priority,
            deadline,
            admitByDeadline: route.queue === 'deadline',
            retryable: route.retryable,
            ...(order
              ? {
                  group: order.sku,
                  admitted: () => {
                    const saleId = soldOutNow()
                    if (saleId === undefined) return
                    metrics.soldOutAnswers.inc({ when: 'after_queue' })
                    throw soldOutFailure(saleId, order.sku)
                  },
                }
              : {}),
          })
          upstreamFailed = answer.status >= 500
          upstreamMs = answer.upstreamMs
          // One unit refused as sold out means none is left: every instance of this gateway may say so now.
          if (order && order.qty === 1 && answer.status === 409) {
            const saleId = soldOutSaleOf(answer.body)
            if (saleId !== undefined) edge!.markSoldOut(order.sku, saleId, 'proxied')
          }
          if (!core && request.method === 'GET' && answer.status === 200) {
            staleCache.remember(userId, request.url, { ...answer, storedAt: Date.now() })
          }
          return reply.code(answer.status).headers(answer.headers).send(answer.body)
        } catch (err) {
          const code = (err as { code?: string }).code
          // Refusals of our own (shed, open circuit) are not upstream failures; timeouts and unreachable are.
          if (code === 'GATEWAY_ERR_UPSTREAM_TIMEOUT' || code === 'GATEWAY_ERR_UPSTREAM_UNAVAILABLE') upstreamFailed = true
          throw err
        } finally {
          opts.observe({ core, upstreamMs, upstreamFailed })
        }
      },
    })
  }
}
