/**
 * soak: long and low. The shop's mixed traffic (k6/lib/mix.js) at a modest constant rate for a long time,
 * plus a trickle of buyers who order, wait for the confirmation and pay (POST /orders/:id/pay) — the
 * unpaid orders of the mix are cancelled by the sweeper when their reservation expires, returning stock.
 * What it finds: leaks (memory, connections, pool slots), slow drift in latency, a queue that never
 * drains (consumer lag), log or metric cardinality growth. Watch the services' /metrics (process memory,
 * pool waits, consumer lag, DLQ depth) while it runs. Not for CI: its default run is 30 minutes.
 *
 * Expected outcomes (not failures): 2xx, 404, 409 (sold out, limit, not payable yet), 429, 503.
 *
 * env: RATE (15 requests/s) · DURATION (30m) · SKU (optional; without it reads only) · SALE_ID (optional)
 *      PAY_RATE (1 buyer/s who pays; 0 = none; needs SKU) · USERS (2000) · MAX_VUS (200) · GATEWAY_URL
 */
import { sleep } from 'k6'
import http from 'k6/http'
import exec from 'k6/execution'
import { GATEWAY_URL, durationEnv, intEnv, numberEnv, secs } from '../lib/env.js'
import { mixSetup, mixedRequest } from '../lib/mix.js'
import { placeOrder, pollOrder } from '../lib/orders.js'
import { expectStatuses, recordRead } from '../lib/outcomes.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { clientHeaders, requireGateway, userAt } from '../lib/users.js'

const RATE = numberEnv('RATE', 15, { min: 1 })
const DURATION = durationEnv('DURATION', '30m')
const USERS = intEnv('USERS', 2000, { min: 1 })
const MAX_VUS = intEnv('MAX_VUS', 200, { min: 2 })
const SKU = __ENV.SKU || __ENV.HOT_SKU || ''
const SALE_ID = __ENV.SALE_ID || ''
const PAY_RATE = SKU ? intEnv('PAY_RATE', 1) : 0

expectStatuses()

const base = baseOptions()
export const options = {
  ...base,
  scenarios: {
    mix: {
      executor: 'constant-arrival-rate',
      exec: 'mix',
      rate: Math.round(RATE),
      timeUnit: '1s',
      duration: secs(DURATION),
      preAllocatedVUs: Math.min(MAX_VUS, 20),
      maxVUs: MAX_VUS,
      gracefulStop: '15s',
    },
    ...(PAY_RATE > 0
      ? {
          payers: {
            executor: 'constant-arrival-rate',
            exec: 'payer',
            rate: PAY_RATE,
            timeUnit: '1s',
            duration: secs(DURATION),
            preAllocatedVUs: Math.min(MAX_VUS, 10),
            maxVUs: Math.max(2, Math.floor(MAX_VUS / 4)),
            gracefulStop: '15s',
          },
        }
      : {}),
  },
  thresholds: {
    ...base.thresholds,
    // At a rate far below capacity nothing is refused, nothing fails, and latency does not drift up.
    system_errors: ['rate<0.001'],
    http_req_failed: ['rate<0.01'],
    served: ['rate>0.99'],
    'read_ms{endpoint:product}': ['p(99)<500'],
    order_placement_ms: ['p(99)<1000'],
    dropped_iterations: [`count<${Math.max(1, Math.floor(RATE * DURATION * 0.01))}`],
    idempotency_violations: ['count==0'],
  },
}

export function setup() {
  requireGateway()
  return mixSetup({ prefix: 'sk', ipBlock: 10, users: USERS, sku: SKU, saleId: SALE_ID, seconds: DURATION + 60 })
}

export function mix(data) {
  mixedRequest(data, 'hold')
}

/** A buyer who pays: order, wait for the worker to confirm it (up to ~5 s), pay. */
export function payer(data) {
  const i = exec.scenario.iterationInTest
  const user = userAt(data.users, data.users.count - 1 - (i % data.users.count))
  const { orderId } = placeOrder({ user, sku: SKU, key: `pay-${data.runId}-${i}` })
  if (!orderId) return
  for (let tries = 0; tries < 5; tries++) {
    sleep(1)
    if (pollOrder({ user, orderId }) === 'confirmed') {
      const res = http.post(`${GATEWAY_URL}/orders/${orderId}/pay`, null, {
        headers: clientHeaders(user.ip, user.token),
        tags: { name: 'POST /orders/:id/pay' },
        timeout: '10s',
      })
      recordRead(res, { endpoint: 'pay' })
      return
    }
  }
}

export const handleSummary = summaryHandler('soak', {
  describe: () => ({ settings: { rate: RATE, durationSeconds: DURATION, payRate: PAY_RATE, users: USERS, saleId: SALE_ID || null } }),
})
