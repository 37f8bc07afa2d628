/**
 * What one call to an upstream carries and returns, and how its failures are told apart: the service's own
 * 5xx (UpstreamStatusError), its refusal (a 503 with Retry-After, ADR 0028), a deadline our own stalled event
 * loop used up (StalledDeadline, ADR 0025), no instance to call. Used by the call path (upstream.ts).
 */
import { DeadlineExceededError, isRefusalAnswer, type Priority } from '@flashsale/resilience'
import { SERVER_TIMING_HEADER } from '@flashsale/service-defaults'
import { NoInstance } from '../errors.ts'

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
export class UpstreamStatusError extends Error {
  readonly status: number
  readonly answer: UpstreamAnswer
  constructor(upstream: string, answer: UpstreamAnswer) {
    super(`${upstream} answered ${answer.status}`)
    this.status = answer.status
    this.answer = answer
  }
}

/** The upstream's own 503 + Retry-After: a refusal it means, not a failure of the instance. */
export function isRefusal(e: unknown): boolean {
  return e instanceof UpstreamStatusError && isRefusalAnswer(e.status, e.answer.headers['retry-after'])
}

/**
 * A deadline that ran out while this gateway's event loop, not the upstream, held most of the time: a
 * 504 for the client, but no evidence against the upstream (the breaker does not count it).
 */
export class StalledDeadline extends DeadlineExceededError {}

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

export function responseHeaders(raw: Record<string, string | string[] | undefined>, upstreamMs: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || DROPPED_RESPONSE_HEADERS.has(k)) continue
    out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  out[SERVER_TIMING_HEADER] = `upstream;dur=${upstreamMs.toFixed(1)}`
  return out
}

export const isNoInstance = (e: unknown) => (e as { code?: string } | null)?.code === NoInstance.code
