/**
 * The buyer funnel every proxied route and every waiting-room route passes after the token check: the bot
 * score, then the per-IP and per-user rate limits (GCRA in Redis, both in one script call per request, ADR
 * 0022). A blocked client spends no rate-limit quota; a refusal is a 403 or a 429 with RateLimit headers.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { formatRateLimit, formatRateLimitPolicy, type RateLimitChain, type RateLimitPolicy, type RateLimitResult } from '@flashsale/resilience'
import type { BotScorer } from './domain/bot-score.ts'
import { BotBlocked, RateLimited } from './errors.ts'
import type { GatewayMetrics } from './metrics.ts'

export interface FunnelOptions {
  /** Per-IP then per-user GCRA, checked in one Redis script call per request (ADR 0022). */
  readonly rateLimits: RateLimitChain
  readonly bots: BotScorer
  /** Rate-limit cost of a request the bot score throttles. */
  readonly botThrottleCost: number
  readonly metrics: GatewayMetrics
}

/** Throws the 403 or 429 for a request that may not go on; sets the RateLimit headers either way. */
export type Funnel = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

const SCOPES = ['ip', 'user'] as const

function rateLimitFailure(scope: string, policy: RateLimitPolicy, result: RateLimitResult) {
  const err = new RateLimited(scope)
  err.retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
  err.details = { scope, policy: policy.name }
  return err
}

export function createFunnel({ rateLimits, bots, botThrottleCost, metrics }: FunnelOptions): Funnel {
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

  return async (request, reply) => {
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
    await checkRate(request.ip, verdict.action === 'throttle' ? botThrottleCost : 1, userId, reply)
  }
}
