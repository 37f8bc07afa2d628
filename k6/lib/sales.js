/**
 * A sale of a scenario's own, made in setup() through the inventory's admin API (POST /admin/sales), the
 * way make demo makes its hot sale: a scenario whose thresholds count units (burst: accepted == STOCK)
 * needs a sale nobody else has bought from. The admin token is a demo token from the gateway (POST
 * /auth/demo-token with the x-demo-admin-secret header, DEMO_ADMIN_SECRET of .local/services.env); the
 * admin API is the inventory's own (INVENTORY_URL, else the first of INVENTORY_URLS, else :3002), which
 * the gateway does not route.
 */
import { sleep } from 'k6'
import http from 'k6/http'
import { GATEWAY_URL, fail } from './env.js'

export const INVENTORY_URL = (__ENV.INVENTORY_URL || (__ENV.INVENTORY_URLS || 'http://127.0.0.1:3002').split(',')[0]).replace(/\/+$/, '')

/** An admin demo token; stops the run saying how to get the secret when it is missing or wrong. */
export function adminToken(ttlSeconds = 900) {
  const secret = __ENV.DEMO_ADMIN_SECRET || ''
  if (!secret) {
    fail(
      'DEMO_ADMIN_SECRET is not set: this scenario creates its own sale as an admin. make load-<scenario> reads it from .local/services.env (make services-up writes it); by hand: set -a; source .local/services.env; set +a',
    )
  }
  const res = http.post(`${GATEWAY_URL}/auth/demo-token`, JSON.stringify({ userId: 'k6-operator', role: 'admin', ttlSeconds }), {
    headers: { 'content-type': 'application/json', 'x-demo-admin-secret': secret },
    tags: { name: 'setup admin token' },
    timeout: '10s',
  })
  if (res.status !== 201)
    fail(
      `POST ${GATEWAY_URL}/auth/demo-token (admin) answered ${res.status} ${String(res.body).slice(0, 200)}: is DEMO_ADMIN_SECRET the one in .local/services.env?`,
    )
  return res.json('token')
}

/**
 * Creates an open sale of `units` units of `sku` (window: now to `minutes` from now) and waits until the
 * gateway's GET /sales?sku= lists it: the order API finds a SKU's sale on a replica, so a buyer who came
 * before the replica had it would be told there is no sale. Returns {id, sku, units}.
 */
export function createSale({ id, sku, title, units, perUserLimit = 1, minutes = 60 }) {
  const token = adminToken()
  const now = Date.now()
  const body = {
    id,
    sku,
    title,
    totalUnits: units,
    perUserLimit,
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + minutes * 60_000).toISOString(),
  }
  const res = http.post(`${INVENTORY_URL}/admin/sales`, JSON.stringify(body), {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    tags: { name: 'setup create sale' },
    timeout: '10s',
  })
  if (res.status !== 201)
    fail(
      `POST ${INVENTORY_URL}/admin/sales answered ${res.status || res.error} ${String(res.body ?? '').slice(0, 200)}: is the inventory up? (make services-up; make infra-status)`,
    )
  for (let i = 0; i < 100; i++) {
    const list = http.get(`${GATEWAY_URL}/sales?sku=${encodeURIComponent(sku)}`, { tags: { name: 'setup sale visible' }, timeout: '5s' })
    if (list.status === 200 && (list.json('sales') || []).some((s) => s.id === id)) return { id, sku, units }
    sleep(0.1)
  }
  return fail(`the sale ${id} was not listed by ${GATEWAY_URL}/sales?sku=${sku} 10 s after it was created: make infra-status shows the replicas' lag`)
}
