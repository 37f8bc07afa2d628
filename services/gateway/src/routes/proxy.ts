/**
 * The proxied routes, one Fastify route per row of the route table. By the time a handler runs, the
 * onRequest hooks (app.ts) have checked the blocklist and the token, and Fastify has validated params,
 * query, headers and body against the row's schema (400 before any upstream is touched). Here: the
 * route's own auth rule, rate limits, bot score, degradation, then the upstream's call pipeline.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { formatRateLimit, formatRateLimitPolicy, type RateLimitChain, type RateLimitPolicy, type RateLimitResult } from '@flashsale/resilience'
import type { BotScorer } from '../domain/bot-score.ts'
import type { Degradation } from '../domain/degradation.ts'
import type { StaleCache } from '../domain/stale-cache.ts'
import { BotBlocked, Degraded, RateLimited } from '../errors.ts'
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
  readonly metrics: GatewayMetrics
  /** Load signals for automatic degradation: latency of core routes, and upstream call outcomes. */
  readonly observe: (sample: { core: boolean; ms: number; upstreamFailed: boolean | undefined }) => void
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

function rateLimitFailure(scope: string, policy: RateLimitPolicy, result: RateLimitResult) {
  const err = new RateLimited(scope)
  err.retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
  err.details = { scope, policy: policy.name }
  return err
}

export async function proxyRoutes(app: FastifyInstance, opts: ProxyRoutesOptions): Promise<void> {
  const { upstreams, rateLimits, bots, degradation, staleCache, metrics } = opts
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
    app.route({
      method: route.method,
      url: route.path,
      ...(route.schema ? { schema: route.schema } : {}),
      ...(route.auth === 'user' ? { onRequest: app.requireUser } : {}),
      handler: async (request, reply) => {
        const userId = request.user?.userId

        // Bot score first: a blocked client should not even spend rate-limit quota.
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

        const started = performance.now()
        let upstreamFailed: boolean | undefined
        try {
          const answer = await upstream.call({
            method: request.method,
            path: request.url,
            headers: forwardHeaders(request),
            body: request.body === undefined || request.body === null ? undefined : JSON.stringify(request.body),
            clientIp: request.ip,
            priority: route.priority,
            timeoutMs: route.timeoutMs,
            retryable: route.retryable,
          })
          upstreamFailed = answer.status >= 500
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
          opts.observe({ core, ms: performance.now() - started, upstreamFailed })
        }
      },
    })
  }
}
