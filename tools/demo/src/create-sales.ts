/**
 * The demo's sales, created through the inventory admin API (the path an operator uses, which also warms
 * the stock gate): a fresh hot flash sale every run (the previous run's hot sale is paused, so each demo
 * starts with full stock) and a few ordinary sales created once. Writes .local/demo.env for k6 and the summary.
 *
 *   node --env-file=.local/stack.env --env-file=.local/auth.env tools/demo/src/create-sales.ts
 * Env: INVENTORY_URL (default http://127.0.0.1:3002), AUTH_JWT_PRIVATE_JWK, HOT_UNITS (300), HOT_PER_USER_LIMIT (1)
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTokenIssuer } from '@flashsale/auth'
import { Type, loadConfig } from '@flashsale/config'
import { productSku } from '../../../services/catalog/src/domain/seed-catalog.ts'

const env = loadConfig(
  Type.Object({
    INVENTORY_URL: Type.String({ default: 'http://127.0.0.1:3002' }),
    AUTH_JWT_PRIVATE_JWK: Type.String({ minLength: 2 }),
    HOT_UNITS: Type.Integer({ default: 300, minimum: 1, maximum: 1_000_000 }),
    HOT_PER_USER_LIMIT: Type.Integer({ default: 1, minimum: 1, maximum: 100 }),
    DEMO_ENV_FILE: Type.String({ default: join(import.meta.dirname, '..', '..', '..', '.local', 'demo.env') }),
  }),
  process.env,
)

const issuer = await createTokenIssuer(JSON.parse(env.AUTH_JWT_PRIVATE_JWK))
const token = await issuer.issue({ userId: 'demo-operator', roles: ['admin'] }, 600)

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, env.INVENTORY_URL), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> }
}

const HOT_SKU = productSku(0)
const now = Date.now()
const iso = (ms: number): string => new Date(ms).toISOString()

// The previous runs' hot sales: paused, so the new one is the SKU's only open sale.
const previous = await call('GET', `/sales?sku=${encodeURIComponent(HOT_SKU)}&limit=50`)
if (previous.status !== 200) throw new Error(`inventory GET /sales answered ${previous.status}: ${JSON.stringify(previous.json)}`)
for (const sale of (previous.json['sales'] ?? []) as { id: string; state: string }[]) {
  if (sale.state === 'active' || sale.state === 'scheduled') {
    const paused = await call('POST', `/admin/sales/${encodeURIComponent(sale.id)}/pause`)
    console.log(`    paused the previous hot sale ${sale.id} (${paused.status})`)
  }
}

const stamp = iso(now).replace(/[-:]/g, '').replace(/\..*/, '')
const hotId = `demo-hot-${stamp}`
const hot = await call('POST', '/admin/sales', {
  id: hotId,
  sku: HOT_SKU,
  title: 'Flash sale (make demo)',
  totalUnits: env.HOT_UNITS,
  perUserLimit: env.HOT_PER_USER_LIMIT,
  startsAt: iso(now),
  endsAt: iso(now + 2 * 3_600_000),
  reservationTtlSeconds: 600,
})
if (hot.status !== 201) throw new Error(`creating the hot sale failed: ${hot.status} ${JSON.stringify(hot.json)}`)
console.log(`    hot sale ${hotId}: ${env.HOT_UNITS} units of ${HOT_SKU}, ${env.HOT_PER_USER_LIMIT} per buyer, gate ${String(hot.json['gate'])}`)

// Ordinary sales: created on the first run, left alone after (409 = exists).
for (let i = 1; i <= 3; i++) {
  const r = await call('POST', '/admin/sales', {
    id: `demo-regular-${i}`,
    sku: productSku(i),
    title: `Everyday deal ${i}`,
    totalUnits: 1_000,
    perUserLimit: 5,
    startsAt: iso(now),
    endsAt: iso(now + 30 * 86_400_000),
  })
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating demo-regular-${i} failed: ${r.status} ${JSON.stringify(r.json)}`)
  console.log(`    ordinary sale demo-regular-${i}: ${r.status === 201 ? 'created' : 'exists'} (${productSku(i)})`)
}

writeFileSync(
  env.DEMO_ENV_FILE,
  `# written by tools/demo/src/create-sales.ts (make demo)\nHOT_SKU=${HOT_SKU}\nHOT_SALE_ID=${hotId}\nHOT_UNITS=${env.HOT_UNITS}\nHOT_STOCK=${env.HOT_UNITS}\n`,
)
