/**
 * browse: shoppers reading the shop — catalog- and review-heavy, as most of a sale's traffic is. Each
 * visit (k6/lib/reads.js browseOnce) is a product page (popular products far more often; its reviews half
 * of the time), a category list (and its next page a third of the time), reviews, the sale page, or now
 * and then a product that does not exist. Anonymous visitors from a large pool of addresses.
 *
 * Product ids and categories come from the deterministic catalog seed (prod-000001 ... prod-<CATALOG_COUNT>);
 * seed it first: node --env-file=.local/stack.env services/catalog/src/bin/seed.ts (make demo does).
 *
 * Expected outcomes (not failures): 2xx (stale answers of degraded non-core reads included), 404 for the
 * missing products, 429/503 if the funnel or backpressure refuse (which at this rate they should not).
 *
 * env: VISIT_RATE (40 visits/s, ~1.5 requests each) · DURATION (2m at that rate) · RAMP (20s)
 *      SALE_ID (optional: the sale page) · CATALOG_COUNT (10000) · VISITORS (20000 addresses) · MAX_VUS (300) · GATEWAY_URL
 */
import { durationEnv, intEnv, secs } from '../lib/env.js'
import { expectStatuses } from '../lib/outcomes.js'
import { browseOnce } from '../lib/reads.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { requireGateway, syntheticIp } from '../lib/users.js'

const VISIT_RATE = intEnv('VISIT_RATE', 40, { min: 1 })
const DURATION = durationEnv('DURATION', '2m')
const RAMP = durationEnv('RAMP', '20s')
const VISITORS = intEnv('VISITORS', 20_000, { min: 1 })
const MAX_VUS = intEnv('MAX_VUS', 300, { min: 1 })
const SALE_ID = __ENV.SALE_ID || ''

expectStatuses()

const base = baseOptions()
export const options = {
  ...base,
  scenarios: {
    browse: {
      executor: 'ramping-arrival-rate',
      startRate: Math.max(1, Math.round(VISIT_RATE / 8)),
      timeUnit: '1s',
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, VISIT_RATE)),
      maxVUs: MAX_VUS,
      stages: [
        { target: VISIT_RATE, duration: secs(RAMP) },
        { target: VISIT_RATE, duration: secs(DURATION) },
      ],
      gracefulStop: '10s',
    },
  },
  thresholds: {
    ...base.thresholds,
    // Reads are answered (2xx, 404 for the missing ids), not refused, at this rate.
    served: ['rate>0.98'],
    system_errors: ['rate<0.01'],
    http_req_failed: ['rate<0.01'],
    // Product pages come from the cache (L1/Redis): fast. Lists read a replica. Reviews are non-core.
    'read_ms{endpoint:product}': ['p(95)<250', 'p(99)<1000'],
    'read_ms{endpoint:list}': ['p(95)<500'],
    'read_ms{endpoint:reviews}': ['p(95)<500'],
  },
}

export function setup() {
  requireGateway()
  return { startedAt: new Date().toISOString(), saleId: SALE_ID || null }
}

export default function (data) {
  browseOnce({ ip: syntheticIp(Math.floor(Math.random() * VISITORS), 9), group: 'user' }, { saleId: data.saleId })
}

export const handleSummary = summaryHandler('browse', {
  describe: () => ({ settings: { visitRate: VISIT_RATE, durationSeconds: DURATION, rampSeconds: RAMP, visitors: VISITORS, saleId: SALE_ID || null } }),
})
