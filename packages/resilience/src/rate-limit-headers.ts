/**
 * Response headers for a rate-limit decision: the IETF draft ietf-httpapi-ratelimit-headers (-10)
 * fields (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/) and Retry-After (RFC 9110 §10.2.3):
 *   RateLimit-Policy: "burst";q=100;w=60      q quota units per window of w seconds
 *   RateLimit: "burst";r=50;t=30              r units remaining, t seconds until more quota is available
 * Policy names are Structured Field strings (RFC 9651), so they are quoted.
 *
 * How GCRA maps onto them: q = burst + 1 (what a subject may spend at once, redis-cell's `limit`) and
 * w = the time a fully spent quota takes to come back (tau = T * (burst + 1)); r = remaining;
 * t = seconds until the next unit returns (draft -10 changed t from "until the quota resets" to "until
 * additional quota is made available", which fits a limiter that refills continuously). On a refusal
 * Retry-After equals t, so it is never earlier than t.
 */
import type { RateLimitPolicy, RateLimitResult } from './gcra.ts'

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000 - 1e-9))

/** A Structured Field string: quotes and backslashes escaped; only printable ASCII is allowed. */
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError(`policy name must be printable ASCII, got ${JSON.stringify(value)}`)
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/** `"name";q=<burst+1>;w=<seconds for a full refill>`. Several policies join with ", ". */
export function formatRateLimitPolicy(policy: RateLimitPolicy): string {
  const windowMs = (policy.periodMs / policy.ratePerPeriod) * (policy.burst + 1)
  return `${sfString(policy.name)};q=${policy.burst + 1};w=${Math.max(1, seconds(windowMs))}`
}

/** `"name";r=<remaining>;t=<seconds until more quota>`. */
export function formatRateLimit(policy: RateLimitPolicy, result: RateLimitResult): string {
  const t = result.allowed ? result.nextAfterMs : Math.max(result.nextAfterMs, result.retryAfterMs)
  return `${sfString(policy.name)};r=${result.remaining};t=${seconds(t)}`
}

/** Retry-After in whole seconds, rounded up (a client told "0" would come straight back). */
export function formatRetryAfter(ms: number): string {
  return String(Math.max(1, seconds(ms)))
}

/** The headers for one decision: always RateLimit-Policy and RateLimit, plus Retry-After when refused. */
export function rateLimitHeaders(policy: RateLimitPolicy, result: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Policy': formatRateLimitPolicy(policy),
    RateLimit: formatRateLimit(policy, result),
  }
  if (!result.allowed) headers['Retry-After'] = formatRetryAfter(result.retryAfterMs)
  return headers
}
