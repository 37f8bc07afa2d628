/**
 * One chaos drill: buyers order (and browse) through the gateway at a steady rate; at `--fault-at` one
 * part of the stack is broken (tools/chaos/fault.sh inject), at `--recover-at` it is brought back
 * (fault.sh recover); the run goes on to `--seconds`. Every answer is recorded with its time, so the
 * report can say, second by second, what buyers saw: availability (answers that were real answers: 2xx,
 * a 404 of a read, a 409 of the business), refusals the system meant (429, a 503 with a problem code and
 * Retry-After), errors (other 5xx, timeouts, resets), and the time to recover: from the fault to the end
 * of the last second in which fewer than 95% of order attempts were answered. `make verify` runs after it
 * (tools/chaos/drill.sh), so "nothing lost, nothing oversold" is checked against the stores, not trusted.
 *
 * Load is open-loop (sent on schedule whatever the answers, as buyers arrive), each order a fresh
 * Idempotency-Key of one of the drill's buyers on a sale of its own (stock no run exhausts), each buyer
 * with an address of its own (the demo gateway trusts X-Forwarded-For, ADR 0023). The reads are product
 * pages, or for pool-exhaustion the buyer's order history (the order API's PostgreSQL pool). In retry-storm
 * every buyer retries a refusal or an error at once, without backoff, up to RETRIES times with the same
 * Idempotency-Key: the client the article warns about; the report gives the amplification it caused at
 * each tier (requests per order attempt at the gateway, the order API and the inventory).
 *
 *   node --env-file=.local/stack.env --env-file=.local/auth.env --env-file=.local/services.env \
 *     tools/chaos/src/drill.ts DRILL [--seconds 60] [--fault-at 10] [--recover-at 30] [--rate 20]
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Agent, request } from 'undici'
import { createTokenIssuer } from '@flashsale/auth'
import { Type, loadConfig } from '@flashsale/config'
import { createPrimaryPool } from '@flashsale/db'
import { sumSamples } from '@flashsale/metrics'

const DRILLS = [
  'order-instance',
  'kafka',
  'replica',
  'primary',
  'redis',
  'downstream-500',
  'latency',
  'hang',
  'latency-postgres',
  'pool-exhaustion',
  'retry-storm',
] as const
type Drill = (typeof DRILLS)[number]
const ROOT = join(import.meta.dirname, '..', '..', '..')

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '60' },
    'fault-at': { type: 'string', default: '10' },
    'recover-at': { type: 'string', default: '30' },
    /** Order attempts per second (default 20; pool-exhaustion 60, so that its 30 reads/s fill the order API's pools). */
    rate: { type: 'string' },
    /**
     * The sale's payment window (its reservation TTL), seconds. The drill never pays, so its orders are
     * cancelled by the payment-timeout sweeper this long after they were placed. The redis drill uses 10:
     * orders placed before the fault are cancelled while Redis is failing over, their gate releases fail, and
     * the sweeper's follow-ups retry them after Redis is back and the reconciler has set the gate (the case
     * that once counted units twice). The others keep the default window (nothing is cancelled in a drill).
     */
    'payment-window': { type: 'string' },
  },
})
const drill = positionals[0] as Drill
if (!DRILLS.includes(drill)) throw new Error(`unknown drill '${positionals[0] ?? ''}': one of ${DRILLS.join(', ')}`)
const SECONDS = Number(values.seconds)
const FAULT_AT = Number(values['fault-at'])
const RECOVER_AT = Number(values['recover-at'])
const RATE = Number(values.rate ?? (drill === 'pool-exhaustion' ? 60 : 20))
const PAYMENT_WINDOW = values['payment-window'] === undefined ? (drill === 'redis' ? 10 : undefined) : Number(values['payment-window'])
if (PAYMENT_WINDOW !== undefined && !(Number.isInteger(PAYMENT_WINDOW) && PAYMENT_WINDOW >= 10)) {
  throw new Error(`--payment-window must be a whole number of seconds >= 10 (the inventory's minimum), got ${values['payment-window']}`)
}
if (!(FAULT_AT >= 0 && RECOVER_AT > FAULT_AT && SECONDS > RECOVER_AT && RATE > 0 && RATE <= 200)) {
  throw new Error(`need 0 <= --fault-at (${FAULT_AT}) < --recover-at (${RECOVER_AT}) < --seconds (${SECONDS}) and 0 < --rate (${RATE}) <= 200`)
}
const env = loadConfig(
  Type.Object({
    GATEWAY_URL: Type.String({ default: 'http://127.0.0.1:8080' }),
    INVENTORY_URLS: Type.String({ default: 'http://127.0.0.1:3002' }),
    ORDER_URLS: Type.String({ default: 'http://127.0.0.1:3003,http://127.0.0.1:3103' }),
    AUTH_JWT_PRIVATE_JWK: Type.String({ minLength: 2 }),
    PG_PRIMARY_URL: Type.String({ minLength: 1 }),
    /** pg_auto_failover's monitor (make infra-up writes it): which node is the primary, sampled during the drill. */
    PG_MONITOR_URL: Type.String({ default: '' }),
  }),
  process.env,
)
const inventoryUrl = env.INVENTORY_URLS.split(',')[0]!

// The drill's sale and buyers.
const issuer = await createTokenIssuer(JSON.parse(env.AUTH_JWT_PRIVATE_JWK))
const admin = await issuer.issue({ userId: 'chaos-drill', roles: ['admin'] }, 3_600)
const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)
const sku = `DRILL-${stamp}`
const created = await fetch(new URL('/admin/sales', inventoryUrl), {
  method: 'POST',
  headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    id: `drill-${drill}-${stamp}`,
    sku,
    title: `Chaos drill ${drill}`,
    totalUnits: 1_000_000,
    perUserLimit: 1_000,
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...(PAYMENT_WINDOW === undefined ? {} : { reservationTtlSeconds: PAYMENT_WINDOW }),
  }),
})
if (created.status !== 201) throw new Error(`creating the drill's sale failed: ${created.status} ${await created.text()}`)
const BUYERS = 200
const buyers = await Promise.all(
  Array.from({ length: BUYERS }, async (_, i) => ({
    token: await issuer.issue({ userId: `drill-buyer-${i}`, roles: ['buyer'] }, 3_600),
    ip: `10.200.${Math.floor(i / 254)}.${(i % 254) + 1}`,
  })),
)

/** retry-storm: retries per attempt, each at once after the last answer, ignoring Retry-After: 20, so that buyers reach the per-user rate limit (10/s, burst 20). */
const RETRIES = 20
const stormy = drill === 'retry-storm'
const historyReads = drill === 'pool-exhaustion'

type Kind = 'order' | 'read'
type Outcome = 'served' | 'refused' | 'error'
interface Answer {
  readonly kind: Kind
  /** Seconds since the drill started, when it was sent (scheduled). */
  readonly at: number
  readonly status: number
  readonly code?: string
  readonly outcome: Outcome
  readonly ms: number
  /** Requests this attempt sent (1, or more when a retry-storm buyer retried). */
  readonly sent: number
}

function classify(kind: Kind, status: number, code: string | undefined): Outcome {
  if (status >= 200 && status < 300) return 'served'
  if (status === 409 || (kind === 'read' && status === 404)) return 'served'
  if (status === 429 || (status === 503 && code !== undefined)) return 'refused'
  return 'error'
}

const agent = new Agent({ connections: null, keepAliveTimeout: 10_000 })
const t0 = performance.now() + 50
async function send(kind: Kind, i: number, scheduled: number): Promise<Answer> {
  const buyer = buyers[i % BUYERS]!
  const at = (scheduled - t0) / 1000
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'flashsale-chaos-drill',
    'x-forwarded-for': buyer.ip,
    authorization: `Bearer ${buyer.token}`,
  }
  const idempotencyKey = randomUUID()
  const once = async (): Promise<{ status: number; code?: string }> => {
    try {
      const res =
        kind === 'order'
          ? await request(new URL('/orders', env.GATEWAY_URL), {
              method: 'POST',
              dispatcher: agent,
              headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
              body: JSON.stringify({ sku, qty: 1 }),
              signal: AbortSignal.timeout(5_000),
            })
          : await request(new URL(historyReads ? '/users/me/orders?limit=5' : `/products/prod-${String(i % 10_000).padStart(6, '0')}`, env.GATEWAY_URL), {
              dispatcher: agent,
              headers,
              signal: AbortSignal.timeout(5_000),
            })
      const text = await res.body.text()
      let code: string | undefined
      try {
        code = (JSON.parse(text) as { code?: string }).code
      } catch {
        /* not JSON */
      }
      return { status: res.statusCode, ...(code ? { code } : {}) }
    } catch (err) {
      return { status: 0, code: (err as Error).name }
    }
  }
  let sent = 0
  for (;;) {
    const { status, code } = await once()
    sent++
    const outcome = classify(kind, status, code)
    if (outcome === 'served' || !stormy || kind !== 'order' || sent > RETRIES) {
      return { kind, at, status, ...(code ? { code } : {}), outcome, ms: performance.now() - scheduled, sent }
    }
  }
}

/** One metric of a service's /metrics, summed over the series whose labels include every pair of `labels`. */
async function counter(url: string, name: string, labels: Readonly<Record<string, string>>): Promise<number> {
  return sumSamples(await (await fetch(new URL('/metrics', url))).text(), name, labels)
}
/** Requests at each tier so far: the order API (from the gateway), and the inventory's reservations (from its metrics). */
async function tiers(): Promise<{ orderApi: number; inventory: number }> {
  const [orderApi, inventory] = await Promise.all([
    counter(env.GATEWAY_URL, 'gateway_upstream_request_duration_seconds_count', { upstream: 'order' }),
    counter(inventoryUrl, 'http_server_request_duration_seconds_count', { method: 'POST', route: '/reservations' }),
  ])
  return { orderApi, inventory }
}
const tiersAtStart = await tiers()

/** Order attempts the gateway has sent to each order instance so far, by instance number (1-based, ORDER_URLS order). */
async function ordersByInstance(): Promise<number[]> {
  return Promise.all(
    env.ORDER_URLS.split(',').map((url) =>
      counter(env.GATEWAY_URL, 'gateway_upstream_request_duration_seconds_count', { upstream: 'order', upstream_instance: new URL(url).host }),
    ),
  )
}
const ordersAtStart = drill === 'order-instance' ? await ordersByInstance() : []

/**
 * The order instance to kill: the one that took the most orders since the drill began. The gateway's
 * P2C/peak-EWMA balancer may send nearly everything to one instance, and killing the idle one would show
 * nothing.
 */
async function busiestOrderInstance(): Promise<number> {
  const now = await ordersByInstance()
  const taken = now.map((n, i) => n - (ordersAtStart[i] ?? 0))
  return taken.indexOf(Math.max(...taken)) + 1
}

let victim: number | undefined
async function fault(action: 'inject' | 'recover'): Promise<{ at: number; ok: boolean }> {
  const started = (performance.now() - t0) / 1000
  if (drill === 'order-instance' && victim === undefined) {
    victim = await busiestOrderInstance()
    console.log(`\n    order-${victim} took the most orders so far: it is the one killed`)
  }
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, 'tools/chaos/fault.sh'), [action, drill], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...(victim === undefined ? {} : { ORDER_INSTANCE: String(victim) }) },
    })
    child.once('exit', (code) => resolve({ at: started, ok: code === 0 }))
  })
}

/**
 * Sampled every 250 ms through the drill: the orders of the drill's sale stored in Postgres (through the
 * PrimaryPool, so it follows a failover), and which node the pg_auto_failover monitor names the primary.
 * From them: when the new primary was in place, and when orders were being persisted again.
 */
interface Sample {
  readonly at: number
  readonly persisted: number | null
  readonly primary: number | null
}
const samples: Sample[] = []
const store = createPrimaryPool(env.PG_PRIMARY_URL, { role: 'primary', name: 'chaos-drill', max: 1, min: 0, connectionTimeoutMillis: 1_000 })
const monitor = env.PG_MONITOR_URL ? new pg.Pool({ connectionString: env.PG_MONITOR_URL, max: 1, connectionTimeoutMillis: 1_000 }) : undefined
let sampling = true
const sampler = (async () => {
  while (sampling) {
    const at = (performance.now() - t0) / 1000
    const [persisted, primary] = await Promise.all([
      store
        .query<{ n: number }>({ text: 'SELECT count(*)::int AS n FROM orders.orders WHERE sku = $1', values: [sku], query_timeout: 1_000 } as pg.QueryConfig)
        .then((r) => r.rows[0]?.n ?? null)
        .catch(() => null),
      monitor
        ?.query<{ port: number }>(
          "SELECT nodeport AS port FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary') AND goalstate IN ('primary', 'wait_primary')",
        )
        .then((r) => (r.rows.length === 1 ? r.rows[0]!.port : null))
        .catch(() => null) ?? Promise.resolve(null),
    ])
    samples.push({ at, persisted, primary })
    await sleep(250)
  }
})()

/**
 * The order API's PostgreSQL pools, every second: callers waiting for a connection (summed over its pools, the
 * largest of its instances) and the acquisitions that waited longer than 250 ms (the order API's acquire
 * timeout), from the metrics PgPoolSaturated and PgPoolAcquireSlow alert on.
 */
const poolSamples: { at: number; waiting: number; orderBreaker: number; gatewayBreaker: number }[] = []
const slowAcquires = async () =>
  (
    await Promise.all(
      env.ORDER_URLS.split(',').map(async (url) => {
        const all = await counter(url, 'pg_pool_acquire_seconds_count', { service: 'order' })
        const fast = await counter(url, 'pg_pool_acquire_seconds_bucket', { service: 'order', le: '0.25' })
        return all - fast
      }),
    )
  ).reduce((a, b) => a + b, 0)
const slowAcquiresAtStart = await slowAcquires().catch(() => 0)
const poolSampler = (async () => {
  while (sampling) {
    const at = (performance.now() - t0) / 1000
    const [waiting, orderBreaker, gatewayBreaker] = await Promise.all([
      Promise.all(env.ORDER_URLS.split(',').map((url) => counter(url, 'pg_pool_connections', { state: 'waiting' }).catch(() => 0))),
      // The breakers' states (0 closed, 1 open, 2 half-open): the order API's to the inventory, the gateway's to the order service.
      Promise.all(env.ORDER_URLS.split(',').map((url) => counter(url, 'order_inventory_breaker_state', {}).catch(() => 0))),
      counter(env.GATEWAY_URL, 'gateway_breaker_state', { upstream: 'order' }).catch(() => 0),
    ])
    poolSamples.push({ at, waiting: Math.max(...waiting), orderBreaker: Math.max(...orderBreaker), gatewayBreaker })
    await sleep(1_000)
  }
})()

console.log(
  `drill ${drill}: ${RATE} order attempts/s${stormy ? ` (each refusal retried at once, up to ${RETRIES} times)` : ''} and ${RATE / 2} ${historyReads ? 'order-history' : 'product'} reads/s for ${SECONDS} s; fault at ${FAULT_AT} s, recovery at ${RECOVER_AT} s`,
)
const pending: Promise<Answer>[] = []
const events: Promise<{ at: number; ok: boolean }>[] = []
let faultStarted = false
let recoverStarted = false
const total = SECONDS * RATE
for (let i = 0; i < total; i++) {
  const scheduled = t0 + (i * 1000) / RATE
  const wait = scheduled - performance.now()
  if (wait > 1) await sleep(wait)
  const now = (scheduled - t0) / 1000
  if (!faultStarted && now >= FAULT_AT) {
    faultStarted = true
    events.push(fault('inject'))
  }
  if (!recoverStarted && now >= RECOVER_AT) {
    recoverStarted = true
    events.push(fault('recover'))
  }
  pending.push(send('order', i, scheduled))
  if (i % 2 === 0) pending.push(send('read', i, scheduled))
  if (i % RATE === 0 && i > 0) process.stdout.write(`\r    ${i / RATE} s`)
}
const answers = await Promise.all(pending)
const [injected, recovered] = await Promise.all(events)
const tiersAtEnd = await tiers()
await agent.close()
sampling = false
await Promise.all([sampler, poolSampler])
const slowAcquiresDuringDrill = (await slowAcquires().catch(() => slowAcquiresAtStart)) - slowAcquiresAtStart
// The payment-timeout sweeper's work on the drill's sale: how many of its orders it cancelled.
const cancelled = await store
  .query<{ n: number }>("SELECT count(*)::int AS n FROM orders.orders WHERE sku = $1 AND status = 'cancelled'", [sku])
  .then((r) => r.rows[0]?.n ?? 0)
  .catch(() => null)
await Promise.all([store.end(), monitor?.end()])
process.stdout.write('\n')
if (!injected?.ok || !recovered?.ok) throw new Error(`the fault could not be ${injected?.ok ? 'undone' : 'injected'}: see the lines above`)

// Second by second, per kind: the share of answers that were real answers.
const perSecond = (kind: Kind) =>
  Array.from({ length: SECONDS }, (_, s) => {
    const xs = answers.filter((a) => a.kind === kind && Math.floor(a.at) === s)
    const served = xs.filter((a) => a.outcome === 'served').length
    return xs.length === 0 ? 1 : served / xs.length
  })
const count = (kind: Kind, outcome: Outcome) => answers.filter((a) => a.kind === kind && a.outcome === outcome).length
const byAnswer = (kind: Kind) => {
  const m: Record<string, number> = {}
  for (const a of answers.filter((x) => x.kind === kind)) {
    const key = `${a.status || 'none'}${a.code ? ` ${a.code}` : ''}`
    m[key] = (m[key] ?? 0) + 1
  }
  return m
}
/** From the fault to the end of the last second under 95% served, or 0 when no second fell under it. */
function timeToRecover(series: number[]): number {
  let last = -1
  for (let s = Math.floor(injected!.at); s < series.length; s++) if (series[s]! < 0.95) last = s
  return last < 0 ? 0 : Math.round((last + 1 - injected!.at) * 10) / 10
}
const orders = perSecond('order')
const reads = perSecond('read')
const round3 = (x: number) => Math.round(x * 1000) / 1000
/** p50 / p99 of the answers of `kind` sent in [from, to) seconds: what a latency fault did to buyers. */
function latency(kind: Kind, from: number, to: number): { p50: number | null; p99: number | null } {
  const ms = answers
    .filter((a) => a.kind === kind && a.at >= from && a.at < to && a.status !== 0)
    .map((a) => a.ms)
    .sort((x, y) => x - y)
  const at = (q: number) => (ms.length === 0 ? null : Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! * 10) / 10)
  return { p50: at(0.5), p99: at(0.99) }
}
const phases = (kind: Kind) => ({
  before: latency(kind, 0, injected!.at),
  during: latency(kind, injected!.at, recovered!.at),
  after: latency(kind, recovered!.at + 5, SECONDS),
})
/** Seconds from the fault to the first sample after it that satisfies `test`; null when none did. */
function firstAfterFault(test: (s: Sample, before: Sample) => boolean): number | null {
  const atFault = [...samples].reverse().find((s) => s.at <= injected!.at && s.persisted !== null) ?? samples[0]
  if (!atFault) return null
  const hit = samples.find((s) => s.at > injected!.at && test(s, atFault))
  return hit ? Math.round((hit.at - injected!.at) * 10) / 10 : null
}
const failoverSeconds = firstAfterFault((s, before) => s.primary !== null && before.primary !== null && s.primary !== before.primary)
/**
 * Orders persisted again: the first count that grew after the store last failed to answer (the outage); 0
 * when the store never stopped answering.
 */
function persistingAgain(): number | null {
  const afterFault = samples.filter((s) => s.at > injected!.at)
  const lastFailed = afterFault.findLastIndex((s) => s.persisted === null)
  if (lastFailed === -1) return 0
  const base =
    afterFault.slice(0, lastFailed).findLast((s) => s.persisted !== null) ?? samples.filter((s) => s.at <= injected!.at && s.persisted !== null).at(-1)
  const seen = base?.persisted ?? 0
  const hit = afterFault.slice(lastFailed + 1).find((s) => s.persisted !== null && s.persisted > seen)
  return hit ? Math.round((hit.at - injected!.at) * 10) / 10 : null
}
const persistingAgainSeconds = persistingAgain()
/**
 * SLA = MTBF / (MTBF + MTTR), availability's textbook definition; MTTR is this drill's time to recover (orders), and
 * MTBF an assumption stated with the figure: one such failure a month.
 */
const MONTH_SECONDS = 30 * 24 * 3_600
/** Time to restore service: buyers' orders answered again and, where the store stopped, being persisted again. */
const mttrSeconds = Math.max(timeToRecover(orders), persistingAgainSeconds ?? 0)
/** A breaker's story from the samples: seconds from the fault to its first opening, and from the recovery to when it stayed closed. */
function breakerStory(state: (p: (typeof poolSamples)[number]) => number): {
  openedAfterFaultSeconds: number | null
  closedAfterRecoverySeconds: number | null
} {
  const opened = poolSamples.find((p) => p.at >= injected!.at && state(p) !== 0)
  if (!opened) return { openedAfterFaultSeconds: null, closedAfterRecoverySeconds: null }
  const lastNotClosed = poolSamples.findLastIndex((p) => state(p) !== 0)
  const closed = lastNotClosed >= 0 ? poolSamples[lastNotClosed + 1] : undefined
  const round1 = (x: number) => Math.round(x * 10) / 10
  return {
    openedAfterFaultSeconds: round1(opened.at - injected!.at),
    closedAfterRecoverySeconds: closed ? round1(Math.max(0, closed.at - recovered!.at)) : null,
  }
}
const orderAttempts = answers.filter((a) => a.kind === 'order').length
const sentRequests = answers.filter((a) => a.kind === 'order').reduce((n, a) => n + a.sent, 0)
const result = {
  drill,
  date: new Date().toISOString(),
  sku,
  rate: RATE,
  seconds: SECONDS,
  ...(victim === undefined ? {} : { killed: `order-${victim}` }),
  faultAt: Math.round(injected!.at * 10) / 10,
  recoverAt: Math.round(recovered!.at * 10) / 10,
  /** pg_auto_failover named another node the primary, this many seconds after the fault (primary drill). */
  failoverSeconds,
  /** The drill's orders were being stored in Postgres again, this many seconds after the fault. */
  persistingAgainSeconds,
  mttrSeconds,
  /** The sale's payment window, when the drill set one, and the orders the sweeper cancelled by the end. */
  ...(PAYMENT_WINDOW === undefined ? {} : { paymentWindowSeconds: PAYMENT_WINDOW, cancelledBySweeper: cancelled }),
  slaAtOneFailurePerMonth: Math.round((MONTH_SECONDS / (MONTH_SECONDS + mttrSeconds)) * 1e6) / 1e6,
  orders: {
    attempts: answers.filter((a) => a.kind === 'order').length,
    accepted: answers.filter((a) => a.kind === 'order' && a.status === 202).length,
    availability: round3(count('order', 'served') / Math.max(1, answers.filter((a) => a.kind === 'order').length)),
    refused: count('order', 'refused'),
    errors: count('order', 'error'),
    timeToRecoverSeconds: timeToRecover(orders),
    latencyMs: phases('order'),
    answers: byAnswer('order'),
    servedBySecond: orders.map(round3),
  },
  /**
   * Requests per order attempt at each tier: what the buyers sent (retries included), what reached the order API
   * (every request the gateway sent it, reads of the order history included), and the inventory's reservations.
   */
  amplification: {
    clientRequestsPerOrderAttempt: round3(sentRequests / Math.max(1, orderAttempts)),
    orderApiRequestsPerOrderAttempt: round3((tiersAtEnd.orderApi - tiersAtStart.orderApi) / Math.max(1, orderAttempts)),
    inventoryReservationsPerOrderAttempt: round3((tiersAtEnd.inventory - tiersAtStart.inventory) / Math.max(1, orderAttempts)),
  },
  /** Sampled once a second: null = never opened (opened) or still not closed at the end (closed). */
  breakers: {
    orderToInventory: breakerStory((p) => p.orderBreaker),
    gatewayToOrder: breakerStory((p) => p.gatewayBreaker),
  },
  /** The order API's PostgreSQL pools: the most callers waiting for a connection in one instance, and the waits past 250 ms. */
  orderApiPools: {
    peakWaiting: Math.max(0, ...poolSamples.map((p) => p.waiting)),
    acquiresOver250ms: slowAcquiresDuringDrill,
  },
  reads: {
    attempts: answers.filter((a) => a.kind === 'read').length,
    availability: round3(count('read', 'served') / Math.max(1, answers.filter((a) => a.kind === 'read').length)),
    refused: count('read', 'refused'),
    errors: count('read', 'error'),
    timeToRecoverSeconds: timeToRecover(reads),
    latencyMs: phases('read'),
    answers: byAnswer('read'),
    servedBySecond: reads.map(round3),
  },
}
const dir = join(ROOT, 'tools/chaos/results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `${drill}-${stamp}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
writeFileSync(join(dir, `${drill}.latest.json`), `${JSON.stringify(result, null, 2)}\n`)

const bar = (series: number[]) => series.map((x) => (x >= 0.95 ? '█' : x >= 0.5 ? '▄' : x > 0 ? '▁' : '·')).join('')
const lat = (l: ReturnType<typeof phases>) =>
  (['before', 'during', 'after'] as const).map((p) => `${p} p50 ${l[p].p50 ?? '-'} / p99 ${l[p].p99 ?? '-'} ms`).join(' · ')
const fmt = (x: Record<string, number>) =>
  Object.entries(x)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} × ${k}`)
    .join(' · ')
console.log(`
drill ${drill}: fault at ${result.faultAt} s, recovery started at ${result.recoverAt} s (of ${SECONDS} s)
  orders   ${bar(orders)}
  reads    ${bar(reads)}
           █ >= 95% answered  ▄ >= 50%  ▁ some  · none   (one column per second)
  orders   availability ${(result.orders.availability * 100).toFixed(1)}% · accepted ${result.orders.accepted} · refused ${result.orders.refused} · errors ${result.orders.errors} · time to recover ${result.orders.timeToRecoverSeconds} s
           ${fmt(result.orders.answers)}
           ${lat(result.orders.latencyMs)}
           per order attempt: ${result.amplification.clientRequestsPerOrderAttempt} requests sent by buyers · ${result.amplification.orderApiRequestsPerOrderAttempt} reached the order API · ${result.amplification.inventoryReservationsPerOrderAttempt} reservations at the inventory
  reads    availability ${(result.reads.availability * 100).toFixed(1)}% · refused ${result.reads.refused} · errors ${result.reads.errors} · time to recover ${result.reads.timeToRecoverSeconds} s
           ${fmt(result.reads.answers)}
           ${lat(result.reads.latencyMs)}
  breakers ${(['orderToInventory', 'gatewayToOrder'] as const)
    .map((b) => {
      const x = result.breakers[b]
      const name = b === 'orderToInventory' ? 'order → inventory' : 'gateway → order'
      return x.openedAfterFaultSeconds === null
        ? `${name} never opened`
        : `${name} opened ${x.openedAfterFaultSeconds} s after the fault, ${x.closedAfterRecoverySeconds === null ? 'still not closed at the end' : `closed ${x.closedAfterRecoverySeconds} s after the recovery`}`
    })
    .join(' · ')}
  pools    order API: at most ${result.orderApiPools.peakWaiting} callers waiting for a PostgreSQL connection in one instance · ${result.orderApiPools.acquiresOver250ms} waits past 250 ms
  store    ${failoverSeconds === null ? '' : `the monitor named a new primary ${failoverSeconds} s after the fault · `}${persistingAgainSeconds === 0 ? 'the store never stopped taking orders' : `orders persisted again ${persistingAgainSeconds ?? 'never'}${persistingAgainSeconds === null ? '' : ' s after the fault'}`}
${PAYMENT_WINDOW === undefined ? '' : `  sweeper  payment window ${PAYMENT_WINDOW} s: ${cancelled ?? '?'} unpaid orders cancelled during the drill (their gate releases are checked by verify's stock-agreement)\n`}  SLA      MTTR ${mttrSeconds} s (orders answered and persisted again) → ${(result.slaAtOneFailurePerMonth * 100).toFixed(4)}% at one such failure a month (SLA = MTBF / (MTBF + MTTR))
  results  ${file}`)
