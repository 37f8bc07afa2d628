/**
 * flash-sale: thousands of buyers race for one hot SKU the moment the sale opens.
 *
 * USERS buyers (each with a demo token and an address of its own, 10.x.y.z via X-Forwarded-For) arrive
 * with the shape of a sale opening — a steep ramp to the peak, a short plateau, a long tail — over
 * DURATION, each placing POST /orders {sku, qty} with a fresh Idempotency-Key. Some retry with the same
 * key (a client that timed out) and some double-click (two at once): never a second order. Some look at
 * their order once (GET /orders/:id) after the 202.
 *
 * Expected outcomes (not failures): 202 accepted until the stock is gone, then 409 sold out; 409 per-buyer
 * limit; 429 and 503 + Retry-After when the funnel or backpressure refuses. A failure is a 5xx that is not
 * an intended refusal, or no answer.
 *
 * env: SKU (required: the hot SKU of an open sale) · USERS (3000) · DURATION (60s; CI runs 20s) · QTY (1)
 *      ATTEMPTS_PER_USER (1: arrivals = USERS x this; above 1 buyers come back with a new key)
 *      RETRY_FRACTION (0.1) · DOUBLE_CLICK_FRACTION (0.05) · POLL_FRACTION (0.3) · POLL_AFTER (1s)
 *      STOCK (optional: the sale's units; then accepted <= STOCK is a threshold) · MAX_VUS (500) · GATEWAY_URL
 */
import { sleep } from 'k6'
import exec from 'k6/execution'
import { durationEnv, intEnv, newRunId, numberEnv, requireSku, secs } from '../lib/env.js'
import { doubleClick, placeOrder, pollOrder, retrySameKey } from '../lib/orders.js'
import { expectStatuses } from '../lib/outcomes.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { demoUsers, requireGateway, userAt } from '../lib/users.js'

const SKU = requireSku('flash-sale')
const USERS = intEnv('USERS', 3000, { min: 1 })
const DURATION = durationEnv('DURATION', '60s')
const QTY = intEnv('QTY', 1, { min: 1 })
const ATTEMPTS = numberEnv('ATTEMPTS_PER_USER', 1, { min: 0.01, max: 100 })
const RETRY = numberEnv('RETRY_FRACTION', 0.1, { max: 1 })
const DOUBLE = numberEnv('DOUBLE_CLICK_FRACTION', 0.05, { max: 1 })
const POLL = numberEnv('POLL_FRACTION', 0.3, { max: 1 })
const POLL_AFTER = durationEnv('POLL_AFTER', '1s')
const STOCK = intEnv('STOCK', 0)
const MAX_VUS = intEnv('MAX_VUS', 500, { min: 1 })

// A sale opening: 10% of the time ramping from 10% to the peak, 30% at the peak, 60% tailing off to 5%.
// The area under that curve is 0.67 x peak x duration; the peak is chosen so that USERS x ATTEMPTS arrive.
const arrivals = USERS * ATTEMPTS
const peak = Math.max(1, Math.round(arrivals / (0.67 * DURATION)))

expectStatuses()

const base = baseOptions()
export const options = {
  ...base,
  scenarios: {
    flash_sale: {
      executor: 'ramping-arrival-rate',
      startRate: Math.max(1, Math.round(peak * 0.1)),
      timeUnit: '1s',
      // VUs made during the run cost time k6 does not have in a spike: make most of them up front. More VUs
      // than that only add connections for a saturated gateway to juggle (and k6 shares the machine's CPUs).
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(20, peak * 2)),
      maxVUs: MAX_VUS,
      stages: [
        { target: peak, duration: secs(DURATION * 0.1) },
        { target: peak, duration: secs(DURATION * 0.3) },
        { target: Math.max(1, Math.round(peak * 0.05)), duration: secs(DURATION * 0.6) },
      ],
      gracefulStop: '15s',
    },
  },
  thresholds: {
    ...base.thresholds,
    // Failures of the system, not refusals: below 1%.
    system_errors: ['rate<0.01'],
    http_req_failed: ['rate<0.01'],
    // A repeated Idempotency-Key never makes a second order.
    idempotency_violations: ['count==0'],
    // The sale sold something (0 means the SKU had no open sale with stock).
    'order_outcomes{outcome:accepted}': ['count>0', ...(STOCK > 0 ? [`count<=${STOCK}`] : [])],
    // Order placement, refusals included, stays inside the gateway's 2 s budget for POST /orders: under a
    // spike the gateway queues briefly (CoDel) and then sheds; it never lets buyers wait without bound.
    order_placement_ms: ['p(95)<2000'],
    // Not a threshold: dropped_iterations (buyers k6 had no free VU for, because answers came slowly) is
    // reported in the results (droppedIterations); on a small machine k6 competes with the stack for CPU.
  },
}

export function setup() {
  requireGateway()
  const runId = newRunId()
  const users = demoUsers({ count: USERS, prefix: `fs-${runId}`, ipBlock: 1, ttlSeconds: Math.min(86_400, Math.ceil(DURATION) + 900) })
  return { runId, sku: SKU, startedAt: new Date().toISOString(), users }
}

export default function (data) {
  const i = exec.scenario.iterationInTest
  const user = userAt(data.users, i)
  const key = `fs-${data.runId}-${i % USERS}-${Math.floor(i / USERS)}`
  const roll = Math.random()
  let first
  if (roll < DOUBLE) {
    first = doubleClick({ user, sku: SKU, key, qty: QTY })
  } else {
    first = placeOrder({ user, sku: SKU, key, qty: QTY })
    if (roll < DOUBLE + RETRY) retrySameKey({ user, sku: SKU, key, qty: QTY, firstOrderId: first.orderId })
  }
  if (first.orderId && Math.random() < POLL) {
    sleep(POLL_AFTER)
    pollOrder({ user, orderId: first.orderId })
  }
}

export const handleSummary = summaryHandler('flash-sale', {
  describe: () => ({
    settings: {
      users: USERS,
      durationSeconds: DURATION,
      peakArrivalsPerSecond: peak,
      qty: QTY,
      attemptsPerUser: ATTEMPTS,
      retryFraction: RETRY,
      doubleClickFraction: DOUBLE,
      pollFraction: POLL,
      stock: STOCK || null,
    },
  }),
})
