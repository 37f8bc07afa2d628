/**
 * burst: every buyer at the same instant, ONE attempt each — the opening second of a flash sale, sharpened.
 *
 * setup() creates a fresh sale of STOCK units, one per buyer (lib/sales.js: the inventory's admin API, as
 * make demo does), so the run owns every unit and its thresholds can count them, and fetches a demo token
 * for each of BUYERS buyers (lib/users.js; each with an address of its own, 10.176.x.y via X-Forwarded-For).
 * Then one VU per buyer (per-vu-iterations, one iteration): each opens its connection to the gateway
 * (GET /health/live: a buyer waiting on the sale page holds one), waits for the release time setup() set,
 * and places POST /orders {sku, qty: 1} with an Idempotency-Key of its own. No retry, no second attempt:
 * the answer to that one request is what the buyer got.
 *
 * Thresholds are the goals of a burst: every unit sold (`accepted` == STOCK: no unit left unsold because
 * buyers were turned away) and a definitive answer (202, or 409 sold out / limit) for >= 99% of buyers;
 * `system_errors` < 1% as everywhere. A refusal (429, 503 + Retry-After) is an expected answer to k6
 * (http_req_failed) but not a definitive one: a buyer refused at the opening lost the race without a
 * verdict. `release_lag_ms` (how late each VU sent after the release time) tells whether the release was
 * sharp; if its p99 is large, raise PREPARE.
 *
 * env: BUYERS (1000) · STOCK (100) · PREPARE (time from the end of setup to the release; default
 *      2 s + 2 ms per buyer) · GATEWAY_URL · INVENTORY_URL · DEMO_ADMIN_SECRET (make load-burst reads both
 *      from .local/services.env)
 */
import { sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Rate, Trend } from 'k6/metrics'
import { GATEWAY_URL, durationEnv, intEnv, newRunId, secs } from '../lib/env.js'
import { placeOrder } from '../lib/orders.js'
import { expectStatuses } from '../lib/outcomes.js'
import { createSale } from '../lib/sales.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { demoUsers, requireGateway, userAt } from '../lib/users.js'

const BUYERS = intEnv('BUYERS', 1000, { min: 1 })
const STOCK = intEnv('STOCK', 100, { min: 1 })
const PREPARE = durationEnv('PREPARE', `${2 + (2 * BUYERS) / 1000}s`)

expectStatuses()

/** Per buyer: true when the one attempt got a definitive answer (202, 409 sold out, 409 limit). */
const definitive = new Rate('definitive_answers')
/** How late each buyer's request left after the release time (the sharpness of the burst). */
const releaseLag = new Trend('release_lag_ms', true)

const base = baseOptions()
export const options = {
  ...base,
  scenarios: {
    burst: {
      executor: 'per-vu-iterations',
      vus: BUYERS,
      iterations: 1,
      maxDuration: secs(PREPARE + 60),
      gracefulStop: '15s',
    },
  },
  thresholds: {
    ...base.thresholds,
    // Every unit sold: the stock was there, the buyers were there; a unit left unsold is a buyer turned away.
    'order_outcomes{outcome:accepted}': [`count==${STOCK}`],
    // Nearly every buyer learned the outcome from the one attempt: bought, or sold out.
    definitive_answers: ['rate>=0.99'],
    system_errors: ['rate<0.01'],
  },
}

export function setup() {
  requireGateway()
  const runId = newRunId()
  const sale = createSale({ id: `burst-${runId}`, sku: `BURST-${runId}`, title: `k6 burst ${runId}`, units: STOCK })
  const users = demoUsers({ count: BUYERS, prefix: `burst-${runId}`, ipBlock: 11, ttlSeconds: Math.max(900, Math.ceil(PREPARE) + 600) })
  const releaseAt = Date.now() + PREPARE * 1000
  return { runId, sku: sale.sku, saleId: sale.id, releaseAt, startedAt: new Date(releaseAt).toISOString(), users }
}

export default function (data) {
  const i = exec.scenario.iterationInTest
  const user = userAt(data.users, i)
  // The buyer's connection, opened before the release (k6 keeps it alive for the order below).
  http.get(`${GATEWAY_URL}/health/live`, { tags: { name: 'open connection' }, timeout: '10s' })
  const wait = data.releaseAt - Date.now()
  if (wait > 0) sleep(wait / 1000)
  releaseLag.add(Math.max(0, Date.now() - data.releaseAt))
  const { outcome } = placeOrder({ user, sku: data.sku, key: `burst-${data.runId}-${i}`, qty: 1 })
  definitive.add(outcome === 'accepted' || outcome === 'sold_out' || outcome === 'limit')
}

const valueOf = (data, metric, stat) => {
  const v = data.metrics[metric]?.values?.[stat]
  return typeof v === 'number' ? Number(v.toFixed(4)) : null
}

export const handleSummary = summaryHandler('burst', {
  describe: (data) => ({
    settings: { buyers: BUYERS, stock: STOCK, prepareSeconds: PREPARE, saleId: data.setup_data?.saleId ?? null },
    definitiveShare: valueOf(data, 'definitive_answers', 'rate'),
    releaseLagMs: { p50: valueOf(data, 'release_lag_ms', 'p(50)'), p99: valueOf(data, 'release_lag_ms', 'p(99)'), max: valueOf(data, 'release_lag_ms', 'max') },
  }),
})
