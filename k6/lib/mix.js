/**
 * The traffic of a shop during a sale, one request per iteration, so an arrival rate is a request rate
 * (peak-2x, overload, soak). The mix, by weight:
 *   product page 35 · category list 12 · reviews 15 (non-core) · sale page 5 (with SALE_ID; else a product
 *   page) · missing product 3 · order placement 15 · order status 8 · my orders 7 (non-core)
 * Orders go to SKU (when the scenario has one); buyers are a pool of demo users, anonymous reads come from a
 * large pool of visitor addresses. `goodput` counts answered requests by priority (core / non-core) and
 * phase, so a threshold can ask for a share of capacity while the load holds.
 */
import { Counter, Rate } from 'k6/metrics'
import { numberEnv } from './env.js'
import { placeOrder, pollOrder } from './orders.js'
import { missingProductId, readList, readMyOrders, readProduct, readReviews, readSale } from './reads.js'
import { demoUsers, syntheticIp, userAt } from './users.js'

/** Answered requests (not refused, not failed), tagged priority (core / non-core) and phase (ramp / hold / down). */
export const goodput = new Counter('goodput')
/** Per core request (catalog, sale, order placement and status): answered, not refused or failed. */
export const coreServed = new Rate('core_served')

const VISITORS = numberEnv('VISITORS', 20_000, { min: 1 })
const WEIGHTS = [
  ['product', 35, 'core'],
  ['list', 12, 'core'],
  ['reviews', 15, 'non-core'],
  ['sale', 5, 'core'],
  ['missing', 3, 'core'],
  ['order', 15, 'core'],
  ['status', 8, 'core'],
  ['my_orders', 7, 'non-core'],
]
const TOTAL = WEIGHTS.reduce((a, [, w]) => a + w, 0)

function pickKind(hasSku) {
  for (;;) {
    let r = Math.random() * TOTAL
    for (const [kind, w, priority] of WEIGHTS) {
      r -= w
      if (r < 0) {
        if (!hasSku && (kind === 'order' || kind === 'status')) break // no sale: pick again
        return [kind, priority]
      }
    }
  }
}

// Order ids this VU got a 202 for, to look at later (status). Bounded.
const myOrders = []

/**
 * One request of the mix. `phase` tags goodput. `data` = setup data {users, runId, sku?, saleId?}.
 * Returns the outcome.
 */
export function mixedRequest(data, phase) {
  const [kind, priority] = pickKind(Boolean(data.sku))
  const user = userAt(data.users, Math.floor(Math.random() * data.users.count))
  const visitor = { ip: syntheticIp(Math.floor(Math.random() * VISITORS), 3), group: 'user' }
  const buyer = { ip: user.ip, token: user.token, group: 'user' }
  let outcome
  let res
  switch (kind) {
    case 'product':
      res = readProduct(visitor)
      break
    case 'list':
      res = readList(visitor)
      break
    case 'reviews':
      res = readReviews(visitor)
      break
    case 'sale':
      res = data.saleId ? readSale(visitor, data.saleId) : readProduct(visitor)
      break
    case 'missing':
      res = readProduct(visitor, missingProductId())
      break
    case 'my_orders':
      res = readMyOrders(buyer)
      break
    case 'status': {
      const mine = myOrders.length ? myOrders[Math.floor(Math.random() * myOrders.length)] : undefined
      if (mine) {
        outcome = pollOrder({ user: mine.user, orderId: mine.orderId })
        break
      }
      res = readProduct(visitor)
      break
    }
    case 'order': {
      const key = `mix-${data.runId}-${user.userId}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`
      const r = placeOrder({ user, sku: data.sku, key })
      outcome = r.outcome
      if (r.orderId) {
        myOrders.push({ user, orderId: r.orderId })
        if (myOrders.length > 50) myOrders.shift()
      }
      break
    }
  }
  if (res) outcome = outcomeOfLastRead(res)
  const ok = ANSWERED.has(outcome)
  if (ok) goodput.add(1, { priority, phase })
  if (priority === 'core') coreServed.add(ok, { phase })
  return outcome
}

const ANSWERED = new Set([
  'ok',
  'stale',
  'not_found',
  'accepted',
  'replayed',
  'in_progress',
  'sold_out',
  'limit',
  'pending',
  'confirmed',
  'rejected',
  'paid',
  'cancelled',
])

function outcomeOfLastRead(res) {
  const s = res.status
  if (s >= 200 && s < 300) return 'ok'
  if (s === 404) return 'not_found'
  return 'refused_or_failed'
}

/** The phase of an arrival-rate scenario at `elapsed` seconds: ramp up, hold, ramp down. */
export function phaseAt(elapsedSeconds, rampSeconds, holdSeconds) {
  if (elapsedSeconds < rampSeconds) return 'ramp'
  if (elapsedSeconds < rampSeconds + holdSeconds) return 'hold'
  return 'down'
}

/** The arrival-rate scenario of the mix: ramp to `rate` requests/s in `ramp` s, hold it `hold` s, stop. */
export function mixScenario({ rate, ramp, hold, maxVUs, startRate = Math.max(1, Math.round(rate / 8)) }) {
  return {
    executor: 'ramping-arrival-rate',
    startRate,
    timeUnit: '1s',
    preAllocatedVUs: Math.min(maxVUs, Math.max(20, Math.round(rate / 2))),
    maxVUs,
    stages: [
      { target: rate, duration: `${Math.max(1, Math.round(ramp))}s` },
      { target: rate, duration: `${Math.max(1, Math.round(hold))}s` },
      { target: 0, duration: '5s' },
    ],
    gracefulStop: '15s',
  }
}

/**
 * Setup data of the mix: the buyers (USERS of them when there is a SKU to buy; a few, for order history,
 * when not), the SKU and sale id, the run id and the start time.
 */
export function mixSetup({ prefix, ipBlock, users, sku, saleId, seconds }) {
  const runId = __ENV.RUN_ID || Date.now().toString(36)
  const count = sku ? users : Math.min(users, 200)
  const ttlSeconds = Math.min(86_400, Math.ceil(seconds) + 900)
  return {
    runId,
    sku: sku || null,
    saleId: saleId || null,
    startedAt: new Date().toISOString(),
    users: demoUsers({ count, prefix: `${prefix}-${runId}`, ipBlock, ttlSeconds }),
  }
}
