/**
 * The buyer's side of the order path: POST /orders with an Idempotency-Key, retries with the same key, and
 * one GET /orders/:id after a 202. Every answer is counted (outcomes.js).
 */
import http from 'k6/http'
import { GATEWAY_URL } from './env.js'
import { idempotencyViolations, recordOrder, recordPoll } from './outcomes.js'
import { clientHeaders } from './users.js'

function orderRequest(user, sku, qty, key, group, headers) {
  return {
    method: 'POST',
    url: `${GATEWAY_URL}/orders`,
    body: JSON.stringify({ sku, qty }),
    params: {
      headers: { ...(headers ?? clientHeaders(user.ip, user.token)), 'content-type': 'application/json', 'idempotency-key': key },
      tags: { name: 'POST /orders', group },
      // The gateway's budget for POST /orders is 2 s (+ a short queue): an answer later than this is a failure.
      timeout: '5s',
    },
  }
}

const orderIdOf = (res) => {
  try {
    return res.json('orderId')
  } catch {
    return undefined
  }
}

/**
 * One POST /orders. `headers` replaces the ordinary client headers (bots send fewer). Returns
 * {outcome, orderId?, res}.
 */
export function placeOrder({ user, sku, key, qty = 1, group = 'user', first = true, headers }) {
  const r = orderRequest(user, sku, qty, key, group, headers)
  const res = http.request(r.method, r.url, r.body, r.params)
  const outcome = recordOrder(res, { group, first })
  return { outcome, orderId: res.status === 202 ? orderIdOf(res) : undefined, res }
}

/**
 * The same request again with the same key, after the first answer: a client that timed out and retries.
 * A 202 must name the same order as the first answer's 202 (an idempotency violation otherwise).
 */
export function retrySameKey({ user, sku, key, qty = 1, group = 'user', firstOrderId }) {
  const r = orderRequest(user, sku, qty, key, group)
  const res = http.request(r.method, r.url, r.body, r.params)
  const outcome = recordOrder(res, { group, first: false })
  const orderId = res.status === 202 ? orderIdOf(res) : undefined
  if (firstOrderId && orderId && orderId !== firstOrderId) idempotencyViolations.add(1)
  return { outcome, orderId, res }
}

/**
 * A double click: two identical requests with one key at once. At most one order may come of it: the other
 * answer is the replay (202, same order id) or 409 ORDER_ERR_REQUEST_IN_PROGRESS. The first request's
 * answer is the attempt's; the second counts as a retry.
 */
export function doubleClick({ user, sku, key, qty = 1, group = 'user' }) {
  const r = orderRequest(user, sku, qty, key, group)
  const [a, b] = http.batch([r, r])
  const outcome = recordOrder(a, { group, first: true })
  recordOrder(b, { group, first: false })
  const ids = new Set([a, b].filter((res) => res.status === 202).map(orderIdOf))
  if (ids.size > 1) idempotencyViolations.add(1)
  const orderId = a.status === 202 ? orderIdOf(a) : b.status === 202 ? orderIdOf(b) : undefined
  return { outcome, orderId, res: a }
}

/** GET /orders/:id once, as its buyer. */
export function pollOrder({ user, orderId, group = 'user' }) {
  const res = http.get(`${GATEWAY_URL}/orders/${orderId}`, {
    headers: clientHeaders(user.ip, user.token),
    tags: { name: 'GET /orders/:id', group },
    timeout: '10s',
  })
  return recordPoll(res, { group })
}
