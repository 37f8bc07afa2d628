/**
 * What each answer means, counted by tagged Counters. A flash sale's normal answers include refusals:
 * 409 sold out / per-buyer limit (the business saying no), 429 (rate limited), 503 + Retry-After (shed by
 * the gateway's backpressure or a service's fail-fast), 403 for bots. Those are EXPECTED outcomes, not
 * failures (setResponseCallback below); what counts as a failure is `errors`: a 5xx that is not one of our
 * intended refusals (500, 502, 504, a 503 without a problem code) or no answer at all.
 *
 * Problem codes: docs/errors.md (RFC 9457 problem+json, `code` = the suffix of urn:flashsale:problem:<CODE>).
 */
import http from 'k6/http'
import { Counter, Rate, Trend } from 'k6/metrics'

/** Outcomes of POST /orders (the keys of `outcomes` in the results file). */
export const ORDER_OUTCOMES = ['accepted', 'replayed', 'in_progress', 'sold_out', 'limit', 'rate_limited', 'shed', 'degraded', 'blocked', 'rejected', 'errors']
/** Outcomes of reads (catalog, reviews, sales, order history). */
export const READ_OUTCOMES = ['ok', 'stale', 'not_found', 'rate_limited', 'shed', 'degraded', 'blocked', 'rejected', 'errors']
/** Outcomes of GET /orders/:id after a 202: the order's status, or why there was none. */
export const POLL_OUTCOMES = ['pending', 'confirmed', 'rejected', 'paid', 'cancelled', 'not_found', 'rate_limited', 'shed', 'errors']

export const orderOutcomes = new Counter('order_outcomes')
export const readOutcomes = new Counter('read_outcomes')
export const pollOutcomes = new Counter('poll_outcomes')
/** Latency of the first POST /orders of an attempt (retries excluded), whatever the answer. */
export const placementMs = new Trend('order_placement_ms', true)
/** Latency of every answered read (catalog, reviews, sales, order history). */
export const readMs = new Trend('read_ms', true)
/** Latency of intended refusals (429, shed 503, degraded 503, bot 403): they must be answered fast. */
export const rejectionMs = new Trend('rejection_ms', true)
/** Per request: true when the answer is an `errors` outcome (the system failed, not refused). */
export const systemErrors = new Rate('system_errors')
/** Per request: true when it was answered (a 2xx, or the business saying no: sold out, limit, 404). */
export const served = new Rate('served')
/** Per request: true when the funnel or backpressure refused it (429, shed 503, degraded 503, bot 403). */
export const refused = new Rate('refused')
/** A repeated Idempotency-Key that produced a second, different order id. Must stay 0. */
export const idempotencyViolations = new Counter('idempotency_violations')

/**
 * The statuses that are answers, not failures, for http_req_failed: 2xx, 404 (a missing product is an
 * answer), 409, 429, 503 and, where bots are expected, 403.
 */
export function expectStatuses(...extra) {
  http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 404, 409, 429, 503, ...extra))
}

export function problemCode(res) {
  try {
    const code = res.json('code')
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}

/** 429/503/403 of the funnel and backpressure, shared by orders, reads and polls. */
function refusal(res, code) {
  if (res.status === 429) return 'rate_limited'
  if (res.status === 503) {
    if (code === 'GATEWAY_ERR_DEGRADED') return 'degraded'
    // Every intended 503 carries a problem code (and Retry-After): gateway overloaded / circuit open /
    // no instance, order stock gate or queue unavailable, catalog inventory unavailable.
    return code ? 'shed' : 'errors'
  }
  if (res.status === 403 && (code === 'GATEWAY_ERR_BOT_BLOCKED' || code === 'GATEWAY_ERR_BLOCKED')) return 'blocked'
  return undefined
}

export function classifyOrder(res) {
  const s = res.status
  if (s === 202) return res.headers['Idempotent-Replayed'] === 'true' ? 'replayed' : 'accepted'
  if (s === 0 || (s >= 500 && s !== 503)) return 'errors'
  const code = problemCode(res)
  if (s === 409) {
    if (code === 'ORDER_ERR_SOLD_OUT') return 'sold_out'
    if (code === 'ORDER_ERR_LIMIT_REACHED') return 'limit'
    if (code === 'ORDER_ERR_REQUEST_IN_PROGRESS') return 'in_progress'
    return 'rejected' // sale not open, closed or paused
  }
  return refusal(res, code) ?? (s >= 400 && s < 500 ? 'rejected' : 'errors')
}

export function classifyRead(res) {
  const s = res.status
  if (s >= 200 && s < 300) return res.headers['X-Gateway-Degraded'] ? 'stale' : 'ok'
  if (s === 0 || (s >= 500 && s !== 503)) return 'errors'
  if (s === 404) return 'not_found'
  return refusal(res, problemCode(res)) ?? (s >= 400 && s < 500 ? 'rejected' : 'errors')
}

export function classifyPoll(res) {
  const s = res.status
  if (s === 200) {
    const status = res.json('status')
    return POLL_OUTCOMES.includes(status) ? status : 'errors'
  }
  if (s === 404) return 'not_found'
  const r = refusal(res, problemCode(res))
  return r === 'rate_limited' || r === 'shed' ? r : 'errors'
}

const SERVED = new Set([
  'accepted',
  'replayed',
  'in_progress',
  'sold_out',
  'limit',
  'ok',
  'stale',
  'not_found',
  'pending',
  'confirmed',
  'rejected_order',
  'paid',
  'cancelled',
])
const REFUSED = new Set(['rate_limited', 'shed', 'degraded', 'blocked'])

/** The per-request rates every answer feeds, tagged with its group (user / bot) for per-group thresholds. */
function rates(outcome, res, group) {
  if (REFUSED.has(outcome)) rejectionMs.add(res.timings.duration, { group })
  systemErrors.add(outcome === 'errors', { group })
  served.add(SERVED.has(outcome), { group })
  refused.add(REFUSED.has(outcome), { group })
}

// Unexpected answers ('rejected': a 4xx that is no business answer; 'errors') are named once per VU and
// kind of answer on stderr, so a run that goes wrong says why without a log dive.
const reported = new Set()
function report(outcome, res, what) {
  if (outcome !== 'rejected' && outcome !== 'errors') return
  const code = res.status === 0 ? res.error : (problemCode(res) ?? '')
  const key = `${what} ${res.status} ${code}`
  if (reported.has(key) || reported.size > 20) return
  reported.add(key)
  console.warn(`${what}: ${outcome} answer ${res.status} ${code} (${String(res.body ?? '').slice(0, 160)})`)
}

/** Counts one POST /orders answer; `first` = the first request of an attempt (its latency is placement). */
export function recordOrder(res, { group = 'user', first = true } = {}) {
  const outcome = classifyOrder(res)
  orderOutcomes.add(1, { outcome, group })
  if (first && res.status !== 0) placementMs.add(res.timings.duration, { outcome, group })
  rates(outcome, res, group)
  report(outcome, res, 'POST /orders')
  return outcome
}

export function recordRead(res, { endpoint, group = 'user' }) {
  const outcome = classifyRead(res)
  readOutcomes.add(1, { outcome, endpoint, group })
  if (res.status !== 0) readMs.add(res.timings.duration, { endpoint, group })
  rates(outcome, res, group)
  report(outcome, res, `read ${endpoint}`)
  return outcome
}

export function recordPoll(res, { group = 'user' } = {}) {
  const outcome = classifyPoll(res)
  pollOutcomes.add(1, { outcome, group })
  rates(outcome === 'rejected' ? 'rejected_order' : outcome, res, group)
  report(outcome === 'rejected' ? 'ok' : outcome, res, 'GET /orders/:id')
  return outcome
}

/**
 * Submetric name of a tagged counter, e.g. sub('order_outcomes', {group: 'user', outcome: 'accepted'})
 * → 'order_outcomes{group:user,outcome:accepted}'. The summary (handleSummary) only carries submetrics that
 * a threshold names, so `countThresholds` declares an always-true one ('count>=0') for each outcome we report.
 */
export function sub(metric, tags) {
  const parts = Object.keys(tags).map((k) => `${k}:${tags[k]}`)
  return parts.length ? `${metric}{${parts.join(',')}}` : metric
}

export function countThresholds(metric, outcomes, tags = {}) {
  const out = {}
  for (const outcome of outcomes) out[sub(metric, { ...tags, outcome })] = ['count>=0']
  return out
}

/** Counts of each outcome from the end-of-test data (0 when none happened). */
export function countsOf(data, metric, outcomes, tags = {}) {
  const out = {}
  for (const outcome of outcomes) {
    const m = data.metrics[sub(metric, { ...tags, outcome })]
    out[outcome] = m ? m.values.count : 0
  }
  return out
}
