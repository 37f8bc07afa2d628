/**
 * Flash burst: every buyer at the same instant, ONE attempt each, through the real gateway and the whole
 * stack as `make services-up` runs it (gateway :8080, two order API instances, inventory, the order worker,
 * Kafka, PostgreSQL, Redis), next to the floor: the same burst against a bare Fastify handler that runs only
 * the stock-gate Lua script (bench/fixtures/gate-floor.ts) — what the gate alone can do on this machine.
 * A flash sale opens at a known time: the buyers are all there, and the ones refused are the ones who
 * lose the race, so what counts is how many definitive answers (202 or 409) the single attempt gets.
 *
 * Each repetition is a fresh sale on a SKU of its own (POST /admin/sales on the inventory, as make demo
 * creates its hot sale), STOCK units, one per buyer. Each buyer is a distinct user with a token issued
 * beforehand (the issuer the gateway's demo tokens use, from AUTH_JWT_PRIVATE_JWK) and a distinct address
 * sent as X-Forwarded-For (the demo gateway runs with TRUST_PROXY=true, as the k6 scenarios rely on; the
 * scheme of k6/lib/users.js), and has a connection of its own (an undici Client per buyer), opened before
 * the release, as a buyer waiting on the sale page holds one. The release writes every buyer's request at
 * once; the spread of the writes is recorded (undici's diagnostics channel `undici:client:sendHeaders`).
 * The tokens are new to the services: each buyer's first request pays a signature verification at the
 * gateway and at the order API (their verified-token caches miss), as a buyer's first request would.
 *
 * Arms, side by side in one run (after a small warm-up burst of each kind that is not recorded):
 *   gateway-1000  --buyers buyers for --stock units, --reps times, alternating with
 *   floor-1000    the same burst against the floor
 *   gateway-5000  --big-buyers buyers for --stock units, once (0 skips it)
 * Per repetition: units sold (202s, and the rows the worker persisted in PostgreSQL), answers by status and
 * problem code (and `reason` for the gateway's refusals), latency p50/p95/p99 (each request from its own
 * send), the time from the release to the last answer and to the last order persisted (orders.created_at
 * of the worker's transaction), CPU seconds per process over that time (/proc; pids from the state dir's
 * pid files), the gateway's rate-limit checks by source (gateway_rate_limit_checks_total: redis, or local
 * when Redis did not answer in time, ADR 0013) and other gateway counters, as deltas over the burst.
 * After every gateway burst `make verify` runs (tools/verify); a failed verify makes the script exit 1.
 *
 * It starts and stops no service: it drives whatever answers at GATEWAY_URL (make bench-burst brings the
 * stack and the services up first). Goals (the project's, docs/benchmarks.md), reported met or not:
 *   gateway-1000: STOCK sold in every repetition · >= 99% definitive answers (202/409) · 0
 *     GATEWAY_ERR_CIRCUIT_OPEN · >= 99% of rate-limit checks answered by Redis · every buyer answered
 *     within 2x the floor's time
 *   gateway-5000: STOCK sold · every buyer answered within 2 s · refusals (503/429) p99 <= 5 ms at the
 *     gateway, approximated by their latency at the client (loopback; the client's own queueing included)
 *
 *   node --env-file=.local/stack.env --env-file=.local/auth.env --env-file-if-exists=.local/services.env \
 *     bench/flash-burst.ts [--buyers 1000] [--stock 100] [--reps 5] [--big-buyers 5000] [--variant before]
 *
 * Writes bench/results/flash-burst.json (flash-burst-<variant>.json with --variant). With BURST_TRACE=<prefix>
 * in the environment, every burst's answers also go to <prefix>-<kind>-<buyers>-<ms>.json as [label, ms from
 * the release to the answer, latency] each: the timeline of a burst (when the units sold, when the crowd
 * had its answers).
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { createTokenIssuer } from '@flashsale/auth'
import { createPrimaryPool } from '@flashsale/db'
import { cpuSeconds, median, requireEnv, startNode, stopProcess, waitUp } from './lib.ts'
import { runVerify, servicesCheckout, stackProcesses } from './stack.ts'

const { values } = parseArgs({
  options: {
    buyers: { type: 'string', default: '1000' },
    stock: { type: 'string', default: '100' },
    reps: { type: 'string', default: '5' },
    'big-buyers': { type: 'string', default: '5000' },
    variant: { type: 'string', default: '' },
  },
})
const BUYERS = Number(values.buyers)
const STOCK = Number(values.stock)
const REPS = Number(values.reps)
const BIG_BUYERS = Number(values['big-buyers'])
const VARIANT = values.variant ?? ''
if (!(
  Number.isInteger(BUYERS) &&
  BUYERS > 0 &&
  Number.isInteger(STOCK) &&
  STOCK > 0 &&
  Number.isInteger(REPS) &&
  REPS > 0 &&
  Number.isInteger(BIG_BUYERS) &&
  BIG_BUYERS >= 0
)) {
  throw new Error('--buyers, --stock and --reps must be whole numbers above 0, --big-buyers a whole number (0 skips that arm)')
}
if (VARIANT && !/^[a-z0-9-]{1,20}$/.test(VARIANT)) throw new Error(`--variant ${VARIANT}: a short kebab-case name such as "before"`)

const ROOT = join(import.meta.dirname, '..')
requireEnv(
  ['PG_PRIMARY_URL', 'REDIS_URL', 'AUTH_JWT_PRIVATE_JWK'],
  'run with --env-file=.local/stack.env --env-file=.local/auth.env after make services-up (make bench-burst does both)',
)
const GATEWAY = (process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
const INVENTORY = (process.env['INVENTORY_URLS'] ?? 'http://127.0.0.1:3002').split(',')[0]!.replace(/\/+$/, '')
const ORDER_URLS = (process.env['ORDER_URLS'] ?? 'http://127.0.0.1:3003,http://127.0.0.1:3103').split(',').map((u) => u.replace(/\/+$/, ''))
// The state dir of the stack the services run against (stack.env names it; the same rule as infra/local/lib.sh).
const STATE_DIR = process.env['FLASHSALE_STATE_DIR'] ?? `/var/tmp/flashsale-${execFileSync('cksum', { input: ROOT }).toString().split(' ')[0]}`
const RUN_DIR = join(STATE_DIR, 'run')

const FLOOR_PORT = 58_131
const CLIENT_TIMEOUT_MS = 10_000
const PERSIST_DEADLINE_MS = 60_000
const WARMUP_BUYERS = 200
const GOALS = { definitiveShare: 0.99, redisShare: 0.99, answerEveryoneVsFloor: 2, bigAnswerEveryoneMs: 2_000, bigRefusalP99Ms: 5 }

/** Stops the run with what is wrong and how to fix it. */
function stop(message: string, fix: string): never {
  console.error(`\nflash-burst: ${message}\n  how to fix: ${fix}`)
  process.exit(2)
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3_000) })).ok
  } catch {
    return false
  }
}
if (!(await ready(`${GATEWAY}/health/ready`)))
  stop(
    `the gateway at ${GATEWAY} is not ready (GET /health/ready)`,
    'run make services-up (make bench-burst brings the stack and the services up itself); make infra-status shows what runs',
  )
if (!(await ready(`${INVENTORY}/health/ready`))) stop(`the inventory at ${INVENTORY} is not ready`, 'run make services-up; make infra-status shows what runs')

// ---------------------------------------------------------------- the services' processes (CPU) and checkout
const processes = stackProcesses(STATE_DIR)
if (!processes['gateway'])
  console.warn(
    `flash-burst: no gateway pid file in ${RUN_DIR}: CPU per process is not recorded (FLASHSALE_STATE_DIR names the stack's state dir; stack.env sets it)`,
  )
const checkout = servicesCheckout(processes)

// ---------------------------------------------------------------- buyers, sales, metrics
const issuer = await createTokenIssuer(JSON.parse(process.env['AUTH_JWT_PRIVATE_JWK']!))
const adminToken = await issuer.issue({ userId: 'bench-operator', roles: ['admin'] }, 3_600)
const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)
const db = createPrimaryPool(process.env['PG_PRIMARY_URL'] ?? '', { role: 'primary', name: 'bench-burst', max: 2, min: 0 })

interface Buyer {
  readonly token: string
  readonly ip: string
}

/** A distinct 10.x.y.z per index (k6/lib/users.js syntheticIp), in block 12: apart from the k6 scenarios' blocks. */
function syntheticIp(index: number, block = 12): string {
  const c = (index % 254) + 1
  const b = Math.floor(index / 254) % 256
  const a = (block % 16) * 16 + (Math.floor(index / (254 * 256)) % 16)
  return `10.${a}.${b}.${c}`
}

// Every buyer of the run has an address of its own: the gateway's bot score counts distinct users per
// address over 10 s, so a second repetition on the same addresses would look like account sharing.
let buyersSoFar = 0
async function newBuyers(count: number, label: string): Promise<Buyer[]> {
  const first = buyersSoFar
  buyersSoFar += count
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      token: await issuer.issue({ userId: `burst-${stamp}-${label}-${i}`, roles: ['buyer'] }, 3_600),
      ip: syntheticIp(first + i),
    })),
  )
}

/** A fresh sale through the inventory admin API; resolves once a replica shows it (the order API reads there). */
async function createSale(label: string, units: number): Promise<{ id: string; sku: string }> {
  const id = `burst-${stamp}-${label}`
  const sku = `BURST-${stamp}-${label}`
  const res = await fetch(`${INVENTORY}/admin/sales`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      sku,
      title: 'Flash burst benchmark',
      totalUnits: units,
      perUserLimit: 1,
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
  })
  if (res.status !== 201)
    stop(
      `creating the sale ${id} failed: ${res.status} ${await res.text()}`,
      'check the inventory log (make infra-logs); make verify shows whether the stack is sane',
    )
  const deadline = Date.now() + 10_000
  for (;;) {
    const listed = (await (await fetch(`${INVENTORY}/sales?sku=${sku}`)).json()) as { sales?: { id: string }[] }
    if (listed.sales?.some((s) => s.id === id)) return { id, sku }
    if (Date.now() > deadline) stop(`the sale ${id} was not visible on the replicas after 10 s`, "make infra-status shows the replicas' lag")
    await sleep(50)
  }
}

/** Every sample of the named families from a /metrics page, keyed `name{labels}` (the service label dropped). */
async function scrape(url: string, families: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  let text: string
  try {
    text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3_000) })).text()
  } catch {
    return out
  }
  for (const line of text.split('\n')) {
    const name = /^([a-z_]+)[{ ]/.exec(line)?.[1]
    if (!name || !families.includes(name)) continue
    const key = line
      .slice(0, line.lastIndexOf(' '))
      .replace(/,?service="[^"]*"/, '')
      .replace('{,', '{')
      .replace('{}', '')
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)))
  }
  return out
}
const GATEWAY_FAMILIES = [
  'gateway_rate_limit_fallbacks_total',
  'gateway_sold_out_answers_total',
  'gateway_upstream_own_duration_seconds_sum',
  'gateway_upstream_own_duration_seconds_count',
  'gateway_rate_limit_checks_total',
  'gateway_rate_limited_total',
  'gateway_shed_total',
  'gateway_admitted_total',
  'gateway_token_verifications_total',
  'gateway_breaker_transitions_total',
  'gateway_retries_total',
  'gateway_bot_verdicts_total',
]
const ORDER_FAMILIES = ['order_placements_total']
async function counters(): Promise<Map<string, number>> {
  const all = new Map<string, number>()
  for (const [url, families] of [[GATEWAY, GATEWAY_FAMILIES], ...ORDER_URLS.map((u) => [u, ORDER_FAMILIES] as const)] as const) {
    for (const [k, v] of await scrape(url, families)) all.set(k, (all.get(k) ?? 0) + v)
  }
  return all
}
const deltaOf = (before: Map<string, number>, after: Map<string, number>): Record<string, number> =>
  Object.fromEntries([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => (d as number) > 0))
/** The gateway's order queue as deadline admission sees it: the limit and its floor, the time reserved per call, the drain rate. */
async function orderQueue(): Promise<OrderQueue> {
  const gauges = [
    ...(await scrape(GATEWAY, ['gateway_concurrency_limit', 'gateway_concurrency_floor', 'gateway_queue_service_seconds', 'gateway_queue_drain_per_second'])),
  ].filter(([k]) => k.includes('upstream="order"'))
  const of = (name: string) => gauges.find(([k]) => k.startsWith(name))?.[1]
  const reserve = of('gateway_queue_service_seconds')
  return {
    limit: of('gateway_concurrency_limit'),
    floor: of('gateway_concurrency_floor'),
    reserveMs: reserve === undefined ? undefined : round(reserve * 1000, 1),
    drainPerSecond: of('gateway_queue_drain_per_second'),
  }
}
interface OrderQueue {
  readonly limit: number | undefined
  readonly floor: number | undefined
  /** What deadline admission reserves per call (smoothed slot time + 4 deviations). */
  readonly reserveMs: number | undefined
  readonly drainPerSecond: number | undefined
}

// ---------------------------------------------------------------- the burst
// When each request's head reached its socket (undici's diagnostics channel): the spread of the release.
const sent: number[] = []
let recording = false
diagnosticsChannel.subscribe('undici:client:sendHeaders', () => {
  if (recording) sent.push(performance.now())
})

interface Answer {
  /** HTTP status, 0 when there was none (timeout, reset, refused). */
  readonly status: number
  readonly label: string
  /** From this request's own send call to its whole answer. */
  readonly ms: number
  /** From the release to this answer. */
  readonly at: number
  readonly orderId?: string
}

/** One connection per buyer, opened now (batches, so the listen backlog is never overrun). */
async function connect(origin: string, count: number): Promise<Client[]> {
  const clients = Array.from(
    { length: count },
    () =>
      new Client(origin, {
        pipelining: 1,
        keepAliveTimeout: 120_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: CLIENT_TIMEOUT_MS,
        bodyTimeout: CLIENT_TIMEOUT_MS,
        connect: { timeout: CLIENT_TIMEOUT_MS },
      }),
  )
  for (let i = 0; i < count; i += 250) {
    await Promise.all(
      clients.slice(i, i + 250).map(async (c) => {
        const res = await c.request({ method: 'GET', path: '/health/ready' })
        await res.body.dump()
      }),
    )
  }
  return clients
}

async function send(client: Client, buyer: Buyer, sku: string, t0: number): Promise<Answer> {
  const start = performance.now()
  try {
    const res = await client.request({
      method: 'POST',
      path: '/orders',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': 'flashsale-bench',
        authorization: `Bearer ${buyer.token}`,
        'x-forwarded-for': buyer.ip,
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ sku, qty: 1 }),
    })
    const text = await res.body.text()
    const end = performance.now()
    let json: { code?: string; reason?: string; orderId?: string } = {}
    try {
      json = JSON.parse(text) as typeof json
    } catch {
      /* not JSON */
    }
    const label = res.statusCode === 202 ? '202' : `${res.statusCode} ${json.code ?? ''} ${res.statusCode === 503 ? (json.reason ?? '') : ''}`.trim()
    return { status: res.statusCode, label, ms: end - start, at: end - t0, ...(res.statusCode === 202 && json.orderId ? { orderId: json.orderId } : {}) }
  } catch (err) {
    const end = performance.now()
    return { status: 0, label: `no answer ${(err as { code?: string }).code ?? (err as Error).name}`, ms: end - start, at: end - t0 }
  }
}

function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 10) / 10
}
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits
const latency = (xs: readonly number[]) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), p99: quantile(xs, 0.99), max: quantile(xs, 1) })

/** Outcome groups of the results' charts, from an answer's label. */
function groupOf(label: string): string {
  if (label === '202') return 'accepted 202'
  if (label === '409 ORDER_ERR_SOLD_OUT') return 'sold out 409'
  if (label === '409 ORDER_ERR_LIMIT_REACHED') return 'limit 409'
  if (label.startsWith('503 GATEWAY_ERR_OVERLOADED')) return 'overloaded 503'
  if (label.startsWith('503 GATEWAY_ERR_CIRCUIT_OPEN')) return 'circuit open 503'
  if (label.startsWith('429')) return 'rate limited 429'
  if (label.startsWith('503 ') && label.length > 4) return 'other refusal 503'
  return 'error'
}
const isDefinitive = (a: Answer) => a.status === 202 || a.label === '409 ORDER_ERR_SOLD_OUT' || a.label === '409 ORDER_ERR_LIMIT_REACHED'
const isRefusal = (a: Answer) => a.status === 429 || (a.status === 503 && a.label !== '503')

interface Burst {
  readonly sale: string
  readonly buyers: number
  readonly stock: number
  /** 202 answers. */
  readonly sold: number
  readonly soldShare: number
  readonly definitiveShare: number
  readonly answers: Record<string, number>
  readonly latencyMs: ReturnType<typeof latency>
  /** Latency of 429 and problem 503 answers (refusals), measured at the client. */
  readonly refusalLatencyMs: ReturnType<typeof latency>
  /** From the first to the last send call, and from the first to the last request head written. */
  readonly releaseMs: number
  readonly sendSpreadMs: number | null
  readonly answerEveryoneMs: number
  readonly persisted?: {
    readonly count: number
    readonly byStatus: Record<string, number>
    readonly lastPersistedMs: number | null
    readonly complete: boolean
  }
  readonly cpuSeconds: Record<string, number>
  readonly clientCpuSeconds: number
  readonly rateLimitChecks?: Record<string, number>
  readonly redisShare?: number | null
  readonly gatewayCounters?: Record<string, number>
  /** The gateway's order queue (limit, expected service time, drain rate) before and after the burst. */
  readonly orderQueueBefore?: OrderQueue
  readonly orderQueueAfter?: OrderQueue
  readonly verify?: 'pass' | 'fail'
}

/** Releases every buyer at once against `origin`, then waits for the answers (and, via gateway, persistence). */
async function burst(
  kind: 'gateway' | 'floor',
  origin: string,
  sale: { id: string; sku: string },
  buyers: readonly Buyer[],
  stock: number,
  watched: Record<string, number>,
): Promise<Burst> {
  const clients = await connect(origin, buyers.length)
  await sleep(500) // let the connection storm settle before the release
  const queueBefore = kind === 'gateway' ? await orderQueue() : undefined
  const countersBefore = kind === 'gateway' ? await counters() : new Map<string, number>()
  const cpuBefore = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuSeconds(pid)]))
  const clientCpuBefore = process.cpuUsage()

  sent.length = 0
  recording = true
  const t0 = performance.now()
  const t0Epoch = performance.timeOrigin + t0
  const pending = buyers.map((b, i) => send(clients[i]!, b, sale.sku, t0))
  const releaseMs = performance.now() - t0
  const answers = await Promise.all(pending)
  recording = false
  const sendSpreadMs = sent.length > 1 ? sent[sent.length - 1]! - sent[0]! : null
  const answerEveryoneMs = Math.max(...answers.map((a) => a.at))
  if (process.env['BURST_TRACE'])
    writeFileSync(
      `${process.env['BURST_TRACE']}-${kind}-${buyers.length}-${Date.now()}.json`,
      JSON.stringify(answers.map((a) => [a.label, Math.round(a.at), Math.round(a.ms)])),
    )

  // Persistence: every 202's row in orders.orders (the worker writes them in batches).
  let persisted: Burst['persisted']
  const orderIds = answers.flatMap((a) => (a.orderId ? [a.orderId] : []))
  if (kind === 'gateway') {
    const deadline = Date.now() + PERSIST_DEADLINE_MS
    let row: { n: number; last: number | null }
    for (;;) {
      const q = await db.query<{ n: number; last: string | null }>(
        'SELECT count(*)::int AS n, (extract(epoch FROM max(created_at)) * 1000)::float8 AS last FROM orders.orders WHERE id = ANY($1::uuid[])',
        [orderIds],
      )
      row = { n: q.rows[0]!.n, last: q.rows[0]!.last === null ? null : Number(q.rows[0]!.last) }
      if (row.n >= orderIds.length || Date.now() > deadline) break
      await sleep(100)
    }
    const byStatus = await db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM orders.orders WHERE sale_id = $1 GROUP BY status ORDER BY status',
      [sale.id],
    )
    persisted = {
      count: row.n,
      byStatus: Object.fromEntries(byStatus.rows.map((r) => [r.status, r.n])),
      lastPersistedMs: row.last === null ? null : round(row.last - t0Epoch),
      complete: row.n >= orderIds.length,
    }
  }
  const cpu: Record<string, number> = {}
  for (const [name, pid] of Object.entries(watched)) {
    const [a, b] = [cpuBefore[name], cpuSeconds(pid)]
    if (a !== undefined && b !== undefined) cpu[name] = round(b - a, 2)
  }
  const clientCpu = process.cpuUsage(clientCpuBefore)
  const countersAfter = kind === 'gateway' ? await counters() : new Map<string, number>()
  const queueAfter = kind === 'gateway' ? await orderQueue() : undefined
  await Promise.all(clients.map((c) => c.close().catch(() => {})))

  const counts: Record<string, number> = {}
  for (const a of answers) counts[a.label] = (counts[a.label] ?? 0) + 1
  const sold = answers.filter((a) => a.status === 202).length
  const result: Burst = {
    sale: sale.id,
    buyers: buyers.length,
    stock,
    sold,
    soldShare: round(sold / stock, 3),
    definitiveShare: round(answers.filter(isDefinitive).length / answers.length, 4),
    answers: Object.fromEntries(Object.entries(counts).sort((x, y) => y[1] - x[1])),
    latencyMs: latency(answers.filter((a) => a.status !== 0).map((a) => a.ms)),
    refusalLatencyMs: latency(answers.filter(isRefusal).map((a) => a.ms)),
    releaseMs: round(releaseMs),
    sendSpreadMs: sendSpreadMs === null ? null : round(sendSpreadMs),
    answerEveryoneMs: round(answerEveryoneMs),
    ...(persisted ? { persisted } : {}),
    cpuSeconds: cpu,
    clientCpuSeconds: round((clientCpu.user + clientCpu.system) / 1e6, 2),
  }
  if (kind === 'floor') return result
  const gatewayCounters = deltaOf(countersBefore, countersAfter)
  const rateLimitChecks = Object.fromEntries(
    Object.entries(gatewayCounters)
      .filter(([k]) => k.startsWith('gateway_rate_limit_checks_total'))
      .map(([k, v]) => [k.replace('gateway_rate_limit_checks_total', ''), v]),
  )
  const bySource = (source: string) => Object.entries(rateLimitChecks).reduce((n, [k, v]) => n + (k.includes(`source="${source}"`) ? v : 0), 0)
  const checks = Object.values(rateLimitChecks).reduce((a, b) => a + b, 0)
  return {
    ...result,
    rateLimitChecks,
    redisShare: checks > 0 ? round(bySource('redis') / checks, 4) : null,
    gatewayCounters,
    ...(queueBefore ? { orderQueueBefore: queueBefore } : {}),
    ...(queueAfter ? { orderQueueAfter: queueAfter } : {}),
  }
}

// ---------------------------------------------------------------- make verify after every gateway burst
let verifyFailed = false
async function verify(after: string): Promise<'pass' | 'fail'> {
  const outcome = await runVerify(ROOT, after)
  if (outcome === 'fail') verifyFailed = true
  return outcome
}

// ---------------------------------------------------------------- the run
const log = (s: string) => process.stdout.write(s)
function line(b: Burst): string {
  const top = Object.entries(b.answers)
    .slice(0, 4)
    .map(([k, n]) => `${n} × ${k}`)
    .join(', ')
  return `sold ${b.sold}/${b.stock}, definitive ${round(b.definitiveShare * 100)}%, everyone answered in ${b.answerEveryoneMs} ms (p50 ${b.latencyMs.p50} · p99 ${b.latencyMs.p99} ms)${b.persisted ? `, last persisted at ${b.persisted.lastPersistedMs} ms` : ''}${b.redisShare !== undefined ? `, rate limits by Redis ${b.redisShare === null ? '-' : `${round(b.redisShare * 100)}%`}` : ''}${b.verify ? `, verify ${b.verify}` : ''} [${top}]\n`
}

console.log(
  `flash-burst: gateway ${GATEWAY} (services from ${checkout ? `${checkout.dir} @ ${checkout.commit}${checkout.modified ? ' + uncommitted changes' : ''}` : 'an unknown checkout'}), ${BUYERS} buyers / ${STOCK} units × ${REPS}, floor alongside${BIG_BUYERS > 0 ? `, then ${BIG_BUYERS} / ${STOCK}` : ''}`,
)
const floor = startNode(join(ROOT, 'bench/fixtures/gate-floor.ts'), [String(FLOOR_PORT)])
await waitUp(`http://127.0.0.1:${FLOOR_PORT}/health/ready`)
const floorWatched = { floor: floor.pid!, ...(processes['redis'] ? { redis: processes['redis'] } : {}) }
const FLOOR = `http://127.0.0.1:${FLOOR_PORT}`

async function floorSale(label: string, units: number): Promise<{ id: string; sku: string }> {
  const id = `floor-${stamp}-${label}`
  const res = await fetch(`${FLOOR}/bench/sales/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ units, perUserLimit: 1 }),
  })
  if (res.status !== 201) stop(`loading the floor's sale failed: ${res.status} ${await res.text()}`, 'is Redis up? make infra-status')
  return { id, sku: id }
}

const gatewayBursts: Burst[] = []
const floorBursts: Burst[] = []
let big: Burst | undefined
try {
  // Warm-up, not recorded: JIT, pools, scripts and caches of both paths, the gateway's limiter at rest after.
  log(`warm-up: ${WARMUP_BUYERS} buyers through the gateway and the floor ... `)
  const warm = await burst(
    'gateway',
    GATEWAY,
    await createSale('warmup', Math.ceil(WARMUP_BUYERS / 10)),
    await newBuyers(WARMUP_BUYERS, 'warmup'),
    Math.ceil(WARMUP_BUYERS / 10),
    {},
  )
  await burst(
    'floor',
    FLOOR,
    await floorSale('warmup', Math.ceil(WARMUP_BUYERS / 10)),
    await newBuyers(WARMUP_BUYERS, 'warmup-floor'),
    Math.ceil(WARMUP_BUYERS / 10),
    {},
  )
  log(`gateway sold ${warm.sold}; verify ${await verify('the warm-up')}\n`)
  await sleep(3_000)

  for (let r = 0; r < REPS; r++) {
    log(`gateway-${BUYERS} rep ${r + 1}/${REPS}: `)
    const g = await burst(
      'gateway',
      GATEWAY,
      await createSale(`g${BUYERS}-r${r + 1}`, STOCK),
      await newBuyers(BUYERS, `g${BUYERS}-r${r + 1}`),
      STOCK,
      processes,
    )
    const withVerify = { ...g, verify: await verify(`gateway-${BUYERS} rep ${r + 1}`) }
    gatewayBursts.push(withVerify)
    log(line(withVerify))
    await sleep(3_000)
    log(`floor-${BUYERS}   rep ${r + 1}/${REPS}: `)
    const f = await burst('floor', FLOOR, await floorSale(`f${BUYERS}-r${r + 1}`, STOCK), await newBuyers(BUYERS, `f${BUYERS}-r${r + 1}`), STOCK, floorWatched)
    floorBursts.push(f)
    log(line(f))
    await sleep(3_000)
  }
  if (BIG_BUYERS > 0) {
    log(`gateway-${BIG_BUYERS}: `)
    const b = await burst('gateway', GATEWAY, await createSale(`g${BIG_BUYERS}`, STOCK), await newBuyers(BIG_BUYERS, `g${BIG_BUYERS}`), STOCK, processes)
    big = { ...b, verify: await verify(`gateway-${BIG_BUYERS}`) }
    log(line(big))
  }
} finally {
  await stopProcess(floor)
  await db.end()
}

// ---------------------------------------------------------------- results
const armG = `gateway-${BUYERS}`
const armF = `floor-${BUYERS}`
const armB = `gateway-${BIG_BUYERS}`
const medianOf = (bs: readonly Burst[], f: (b: Burst) => number) => round(median(bs.map(f)))
const gatewayTime = medianOf(gatewayBursts, (b) => b.answerEveryoneMs)
const floorTime = medianOf(floorBursts, (b) => b.answerEveryoneMs)
const timeRatio = round(gatewayTime / (floorTime || 1), 2)
const sumChecks = (source: string) =>
  gatewayBursts.reduce((n, b) => n + Object.entries(b.rateLimitChecks ?? {}).reduce((m, [k, v]) => m + (k.includes(`source="${source}"`) ? v : 0), 0), 0)
const allChecks = sumChecks('redis') + sumChecks('local')
const redisShare = allChecks > 0 ? round(sumChecks('redis') / allChecks, 4) : 0
const circuitOpen = gatewayBursts.reduce(
  (n, b) => n + Object.entries(b.answers).reduce((m, [k, v]) => m + (k.startsWith('503 GATEWAY_ERR_CIRCUIT_OPEN') ? v : 0), 0),
  0,
)
const minDefinitive = Math.min(...gatewayBursts.map((b) => b.definitiveShare))
const soldEvery = gatewayBursts.every((b) => b.sold === STOCK && b.persisted?.count === STOCK)

/** Mean answers per burst by outcome group (the report's stacked chart). */
function outcomesPerBurst(bs: readonly Burst[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const b of bs) for (const [label, n] of Object.entries(b.answers)) out[groupOf(label)] = (out[groupOf(label)] ?? 0) + n / bs.length
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v)]))
}
/** Per arm: the medians of its repetitions (the one repetition of the big arm as it is). */
function armSummary(bs: readonly Burst[]) {
  return {
    buyers: bs[0]?.buyers ?? 0,
    stock: STOCK,
    repetitions: bs.length,
    soldPerRep: bs.map((b) => b.sold),
    persistedPerRep: bs.map((b) => b.persisted?.count ?? null),
    definitiveSharePerRep: bs.map((b) => b.definitiveShare),
    answerEveryoneMsPerRep: bs.map((b) => b.answerEveryoneMs),
    medianAnswerEveryoneMs: medianOf(bs, (b) => b.answerEveryoneMs),
    medianLatencyMs: {
      p50: medianOf(bs, (b) => b.latencyMs.p50 ?? 0),
      p95: medianOf(bs, (b) => b.latencyMs.p95 ?? 0),
      p99: medianOf(bs, (b) => b.latencyMs.p99 ?? 0),
    },
    outcomesPerBurst: outcomesPerBurst(bs),
    bursts: bs,
  }
}

// Short names (the report's verdict lists the missed ones), each with what it measures.
const checks: Record<string, { value: number; goal: string; label: string }> = {
  soldEveryRep: {
    value: round(Math.min(...gatewayBursts.map((b) => Math.min(b.sold, b.persisted?.count ?? 0))) / STOCK, 2),
    goal: '= 1 in every repetition',
    label: `${armG}: units sold (202 and persisted) ÷ stock, worst repetition`,
  },
  definitiveShare: {
    value: minDefinitive,
    goal: `>= ${GOALS.definitiveShare}`,
    label: `${armG}: definitive answers (202/409) on the one attempt, worst repetition`,
  },
  circuitOpen: { value: circuitOpen, goal: '= 0', label: `${armG}: GATEWAY_ERR_CIRCUIT_OPEN answers, all repetitions` },
  redisShare: { value: redisShare, goal: `>= ${GOALS.redisShare}`, label: `${armG}: rate-limit checks answered by Redis` },
  answerEveryoneVsFloor: { value: timeRatio, goal: `<= ${GOALS.answerEveryoneVsFloor}`, label: `${armG}: time to answer everyone ÷ the floor's (medians)` },
}
const met: Record<string, boolean> = {
  soldEveryRep: soldEvery,
  definitiveShare: minDefinitive >= GOALS.definitiveShare,
  circuitOpen: circuitOpen === 0,
  redisShare: redisShare >= GOALS.redisShare,
  answerEveryoneVsFloor: timeRatio <= GOALS.answerEveryoneVsFloor,
}
if (big) {
  Object.assign(checks, {
    bigSold: { value: round(Math.min(big.sold, big.persisted?.count ?? 0) / STOCK, 2), goal: '= 1', label: `${armB}: units sold (202 and persisted) ÷ stock` },
    bigAnswerEveryoneMs: {
      value: big.answerEveryoneMs,
      goal: `<= ${GOALS.bigAnswerEveryoneMs}`,
      label: `${armB}: ms from the release until every buyer had an answer`,
    },
    bigRefusalP99Ms: {
      value: big.refusalLatencyMs.p99 ?? 0,
      goal: `<= ${GOALS.bigRefusalP99Ms}`,
      label: `${armB}: refusals (503/429) p99 in ms, measured at the client${big.refusalLatencyMs.p99 === null ? ' (there were none: bench/overload measures refusal latency)' : ''}`,
    },
  })
  Object.assign(met, {
    bigSold: big.sold === STOCK && big.persisted?.count === STOCK,
    bigAnswerEveryoneMs: big.answerEveryoneMs <= GOALS.bigAnswerEveryoneMs && !Object.keys(big.answers).some((k) => k.startsWith('no answer')),
    // No refusal at all also meets it.
    bigRefusalP99Ms: (big.refusalLatencyMs.p99 ?? 0) <= GOALS.bigRefusalP99Ms,
  })
}
const verifyText = [...gatewayBursts.map((b) => b.verify), big?.verify].filter(Boolean)
const result = {
  case: 'flash-burst',
  ...(VARIANT ? { variant: VARIANT } : {}),
  date: new Date().toISOString(),
  unit: 'ms from the release to the last answer',
  cores: availableParallelism(),
  rounds: REPS,
  // The code measured: the commit the services ran from, and whether services/ or packages/ had changes on top.
  services: checkout ? { commit: checkout.commit, modified: checkout.modified } : null,
  settings: {
    buyers: BUYERS,
    stock: STOCK,
    reps: REPS,
    bigBuyers: BIG_BUYERS,
    perUserLimit: 1,
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
    connections: 'one per buyer, opened before the release',
  },
  throughput: { [armG]: gatewayTime, [armF]: floorTime, ...(big ? { [armB]: big.answerEveryoneMs } : {}) },
  ratio: timeRatio,
  goal: GOALS.answerEveryoneVsFloor,
  goalText: `≤ ${GOALS.answerEveryoneVsFloor}×`,
  soldShare: {
    [armG]: Math.min(...gatewayBursts.map((b) => b.soldShare)),
    [armF]: Math.min(...floorBursts.map((b) => b.soldShare)),
    ...(big ? { [armB]: big.soldShare } : {}),
  },
  arms: { [armG]: armSummary(gatewayBursts), [armF]: armSummary(floorBursts), ...(big ? { [armB]: armSummary([big]) } : {}) },
  checks,
  met,
  verify: verifyFailed ? 'fail' : 'pass',
  machine: `${availableParallelism()} cores shared by the client, every service, Redis, Kafka and PostgreSQL. ${armG}: sold ${gatewayBursts.map((b) => b.sold).join('/')} of ${STOCK}, everyone answered in ${gatewayTime} ms (median) vs ${floorTime} ms at the floor (${timeRatio}×); answers per burst: ${Object.entries(
    outcomesPerBurst(gatewayBursts),
  )
    .map(([k, n]) => `${k} ${n}`)
    .join(
      ', ',
    )}; rate-limit checks by Redis ${round(redisShare * 100)}%.${big ? ` ${armB}: sold ${big.sold}, everyone answered in ${big.answerEveryoneMs} ms, refusals p99 ${big.refusalLatencyMs.p99 ?? '-'} ms (client side).` : ''} make verify after every gateway burst: ${verifyText.join(', ')}.`,
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
const out = join(ROOT, 'bench/results', `flash-burst${VARIANT ? `-${VARIANT}` : ''}.json`)
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\n${result.machine}`)
for (const [name, c] of Object.entries(checks)) console.log(`  ${met[name] ? 'met   ' : 'MISSED'} ${c.label}: ${c.value} (goal ${c.goal})`)
console.log(`results: ${out}`)
if (verifyFailed) {
  console.error(
    "\nflash-burst: make verify FAILED after a burst (its report is above): an invariant is broken.\n  how to fix: read docs/runbooks/verify-failed.md; make verify re-checks; make infra-logs shows the services' logs",
  )
  process.exit(1)
}
