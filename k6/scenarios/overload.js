/**
 * overload: five times the capacity. The shop's mixed traffic (k6/lib/mix.js) arrives at 5 x CAPACITY_RPS.
 * The stack must refuse what it cannot serve quickly and cleanly — 429 from the funnel, 503 + Retry-After
 * from backpressure (non-core shed first, degraded answers for non-core reads) — with no 5xx failures of
 * its own, and keep serving the core (catalog, sale, order placement and status) at a good share of its
 * capacity.
 *
 * Expected outcomes (not failures): 2xx, 404 (the mix's missing products), 409, 429, 503 shed/degraded.
 *
 * env: CAPACITY_RPS (100, as in peak-2x) · DURATION (1m: time at 5x) · RAMP (15s) · SKU (optional; without it
 *      no orders) · SALE_ID (optional) · USERS (1000) · MAX_VUS (1000) · GATEWAY_URL
 */
import exec from 'k6/execution'
import { durationEnv, intEnv, numberEnv } from '../lib/env.js'
import { mixScenario, mixSetup, mixedRequest, phaseAt } from '../lib/mix.js'
import { expectStatuses } from '../lib/outcomes.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { requireGateway } from '../lib/users.js'

const CAPACITY = numberEnv('CAPACITY_RPS', 100, { min: 1 })
const FACTOR = 5
const HOLD = durationEnv('DURATION', '1m')
const RAMP = durationEnv('RAMP', '15s')
const USERS = intEnv('USERS', 1000, { min: 1 })
const SKU = __ENV.SKU || __ENV.HOT_SKU || ''
const SALE_ID = __ENV.SALE_ID || ''
const RATE = Math.round(CAPACITY * FACTOR)

expectStatuses()

const base = baseOptions()
export const options = {
  ...base,
  scenarios: { overload: mixScenario({ rate: RATE, ramp: RAMP, hold: HOLD, maxVUs: intEnv('MAX_VUS', 1000, { min: 1 }) }) },
  thresholds: {
    ...base.thresholds,
    // Overload is refused, never failed: no 5xx of the system's own, no timeouts.
    system_errors: ['rate<0.01'],
    http_req_failed: ['rate<0.01'],
    // Refusals are cheap and fast (the gateway answers them without waiting for an upstream).
    rejection_ms: ['p(95)<250', 'p(99)<500'],
    // The core is still served: half of capacity at least while at 5x, and most core requests answered.
    'goodput{phase:hold,priority:core}': [`count>=${Math.floor(0.5 * CAPACITY * HOLD)}`],
    'core_served{phase:hold}': ['rate>0.15'],
    idempotency_violations: ['count==0'],
  },
}

export function setup() {
  requireGateway()
  return mixSetup({ prefix: 'ov', ipBlock: 5, users: USERS, sku: SKU, saleId: SALE_ID, seconds: RAMP + HOLD })
}

export default function (data) {
  mixedRequest(data, phaseAt((Date.now() - exec.scenario.startTime) / 1000, RAMP, HOLD))
}

export const handleSummary = summaryHandler('overload', {
  describe: (data) => {
    const core = data.metrics['goodput{phase:hold,priority:core}']?.values.count ?? 0
    return {
      settings: { capacityRps: CAPACITY, factor: FACTOR, offeredRps: RATE, holdSeconds: HOLD, rampSeconds: RAMP, users: USERS, saleId: SALE_ID || null },
      coreGoodputWhileHolding: { perSecond: Math.round((core / HOLD) * 10) / 10, goalPerSecond: 0.5 * CAPACITY },
      coreServedWhileHolding: data.metrics['core_served{phase:hold}']?.values.rate ?? null,
    }
  },
})
