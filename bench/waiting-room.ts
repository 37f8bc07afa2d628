/**
 * Waiting room: a crowd far bigger than the order path (10,000 buyers arriving over 10 s for 100 units),
 * through the real gateway and the whole stack as `make services-up` runs it, side by side in one run:
 *   room      the sale has a waiting room (ADR 0039): each buyer joins (POST /sales/:id/waiting-room/ticket),
 *             long-polls its ticket (GET ...?wait=10) until admitted or told sold out, then orders once with
 *             its Waiting-Room-Pass
 *   no-room   the same crowd, the same arrival curve, a sale without a room: each buyer orders once on arrival
 * Tokens are signed here beforehand (AUTH_JWT_PRIVATE_JWK, as bench/flash-burst.ts), each buyer has an
 * address of its own (X-Forwarded-For; the demo gateway trusts it), one attempt each, no retries.
 *
 * Per arm: units sold; what each buyer finally got; the share of buyers with a ticket or a definitive
 * answer (202, 409) within the gateway's 2 s budget of arriving; 503s to buyers in the room (join or poll);
 * FIFO order inversions (pairs of admitted buyers whose places disagree with their tickets); how long after
 * the last accepted order the buyers still in line were told sold out; CPU per process; per second, the
 * admissions and the sold-out answers. make verify runs after each arm. A warm-up of 1,000 buyers through a
 * room comes first, not recorded.
 *
 * Goals (the waiting-room arm): 100 sold · every buyer answered within 2 s · 0 × 503 to buyers in the room ·
 * 0 inversions (FIFO) · everyone still waiting told sold out within 1 s of the last unit · verify passes.
 *
 *   node --env-file=.local/stack.env --env-file=.local/auth.env --env-file-if-exists=.local/services.env \
 *     bench/waiting-room.ts [--buyers 10000] [--stock 100] [--arrival 10] [--mode fifo|lottery] [--variant NAME]
 * Writes bench/results/waiting-room.json (waiting-room-<variant>.json with --variant: another crowd shape,
 * e.g. --arrival 2 --variant arrival-2s; make bench-report draws both). With ROOM_TRACE=<prefix> in the
 * environment, every buyer's fate also goes to <prefix>-<arm>.json.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { createTokenIssuer } from '@flashsale/auth'
import { cpuSeconds, requireEnv } from './lib.ts'
import { runVerify, servicesCheckout, stackProcesses } from './stack.ts'

const { values } = parseArgs({
  options: {
    buyers: { type: 'string', default: '10000' },
    stock: { type: 'string', default: '100' },
    arrival: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'fifo' },
    variant: { type: 'string', default: '' },
  },
})
const VARIANT = values.variant ?? ''
if (VARIANT && !/^[a-z0-9-]{1,20}$/.test(VARIANT)) throw new Error(`--variant ${VARIANT}: a short kebab-case name such as "arrival-2s"`)
const BUYERS = Number(values.buyers)
const STOCK = Number(values.stock)
const ARRIVAL_MS = Number(values.arrival) * 1000
const MODE = values.mode
if (!(Number.isInteger(BUYERS) && BUYERS > 0 && Number.isInteger(STOCK) && STOCK > 0 && ARRIVAL_MS > 0 && (MODE === 'fifo' || MODE === 'lottery')))
  throw new Error('--buyers and --stock must be whole numbers above 0, --arrival seconds above 0, --mode fifo or lottery')

const ROOT = join(import.meta.dirname, '..')
requireEnv(['AUTH_JWT_PRIVATE_JWK'], 'run with --env-file=.local/stack.env --env-file=.local/auth.env after make services-up (make bench-room does both)')
const GATEWAY = (process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
const INVENTORY = (process.env['INVENTORY_URLS'] ?? 'http://127.0.0.1:3002').split(',')[0]!.replace(/\/+$/, '')
const STATE_DIR = process.env['FLASHSALE_STATE_DIR'] ?? `/var/tmp/flashsale-${execFileSync('cksum', { input: ROOT }).toString().split(' ')[0]}`
const BUDGET_MS = 2_000
const GOALS = { answeredInBudget: 1, roomUnavailable: 0, inversions: 0, soldOutNoticeMs: 1_000 }

const processes = stackProcesses(STATE_DIR)
const checkout = servicesCheckout(processes)
const issuer = await createTokenIssuer(JSON.parse(process.env['AUTH_JWT_PRIVATE_JWK']!))
const adminToken = await issuer.issue({ userId: 'bench-operator', roles: ['admin'] }, 3_600)
const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)
// One connection per buyer in flight: a held poll holds its socket.
const dispatcher = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 })

const log = (s: string) => process.stdout.write(s)
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!)
}

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, headers: Record<string, string>, body?: unknown) {
  const res = await request(`${path.startsWith('http') ? '' : GATEWAY}${path}`, {
    method,
    dispatcher,
    headers: { accept: 'application/json', 'user-agent': 'flashsale-bench', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.body.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, json, retryAfter: Number(res.headers['retry-after'] ?? 1) }
}

async function createSale(label: string, withRoom: boolean): Promise<{ id: string; sku: string }> {
  const id = `room-${stamp}-${label}`
  const sku = id.toUpperCase()
  const auth = { authorization: `Bearer ${adminToken}` }
  const now = Date.now()
  const made = await call('POST', `${INVENTORY}/admin/sales`, auth, {
    id,
    sku,
    title: 'Waiting room benchmark',
    totalUnits: STOCK,
    perUserLimit: 1,
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + 3_600_000).toISOString(),
  })
  if (made.status !== 201) throw new Error(`creating the sale ${id} failed: ${made.status} ${JSON.stringify(made.json)}`)
  for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
    const listed = await call('GET', `${INVENTORY}/sales?sku=${sku}`, {})
    if ((listed.json['sales'] as { id: string }[] | undefined)?.some((s) => s.id === id)) break
    if (Date.now() > deadline) throw new Error(`the sale ${id} was not visible on the replicas after 10 s`)
  }
  if (withRoom) {
    const room = await call('PUT', `/admin/waiting-rooms/${id}`, auth, { mode: MODE })
    if (room.status !== 201) throw new Error(`opening the room of ${id} failed: ${room.status} ${JSON.stringify(room.json)}`)
  }
  return { id, sku }
}

/** What happened to one buyer, times in ms from the first arrival. */
interface Fate {
  outcome: string
  arrivedAt?: number
  joinedAt?: number
  /** A ticket or a definitive answer within the budget of arriving. */
  inBudget: boolean
  unavailable: number
  ticket?: number
  place?: number
  admittedAt?: number
  acceptedAt?: number
  toldSoldOutWhileWaitingAt?: number
  answeredAt: number
}

const label = (status: number, json: Record<string, unknown>) =>
  status === 202 ? '202' : `${status} ${typeof json['code'] === 'string' ? json['code'] : ''}`.trim()
const definitive = (status: number) => status === 202 || status === 409

async function order(sale: { sku: string }, headers: Record<string, string>, i: number, pass?: string) {
  return call(
    'POST',
    '/orders',
    { ...headers, 'idempotency-key': `wr-bench-${stamp}-${i}`, ...(pass ? { 'waiting-room-pass': pass } : {}) },
    { sku: sale.sku, qty: 1 },
  )
}

async function roomBuyer(sale: { id: string; sku: string }, headers: Record<string, string>, i: number, t0: number): Promise<Fate> {
  const arrived = performance.now()
  const at = () => performance.now() - t0
  const fate: Fate = { outcome: '', inBudget: false, unavailable: 0, answeredAt: 0 }
  fate.arrivedAt = at()
  const joined = await call('POST', `/sales/${sale.id}/waiting-room/ticket`, headers)
  fate.joinedAt = at()
  fate.inBudget = [200, 201, 409].includes(joined.status) && performance.now() - arrived <= BUDGET_MS
  if (joined.status === 503) fate.unavailable++
  if (joined.status !== 200 && joined.status !== 201) return { ...fate, outcome: `join ${label(joined.status, joined.json)}`, answeredAt: at() }
  let t = joined.json
  fate.ticket = t['ticket'] as number
  while (t['state'] !== 'admitted') {
    const polled = await call('GET', `/sales/${sale.id}/waiting-room/ticket?wait=10`, headers)
    if (polled.status === 409) return { ...fate, outcome: 'told sold out in line', toldSoldOutWhileWaitingAt: at(), answeredAt: at() }
    if (polled.status === 503) {
      fate.unavailable++
      await sleep(polled.retryAfter * 1000)
      continue
    }
    if (polled.status !== 200) return { ...fate, outcome: `poll ${label(polled.status, polled.json)}`, answeredAt: at() }
    t = polled.json
    if (t['state'] === 'expired') return { ...fate, outcome: 'pass expired', answeredAt: at() }
  }
  fate.admittedAt = at()
  const pass = t['pass'] as string
  fate.place = (JSON.parse(Buffer.from(pass.split('.')[1]!, 'base64url').toString()) as { p: number }).p
  const res = await order(sale, headers, i, pass)
  return { ...fate, outcome: `order ${label(res.status, res.json)}`, ...(res.status === 202 ? { acceptedAt: at() } : {}), answeredAt: at() }
}

async function directBuyer(sale: { sku: string }, headers: Record<string, string>, i: number, t0: number): Promise<Fate> {
  const arrived = performance.now()
  const res = await order(sale, headers, i)
  const at = performance.now() - t0
  return {
    outcome: `order ${label(res.status, res.json)}`,
    inBudget: definitive(res.status) && performance.now() - arrived <= BUDGET_MS,
    unavailable: res.status === 503 ? 1 : 0,
    ...(res.status === 202 ? { acceptedAt: at } : {}),
    answeredAt: at,
  }
}

/** Pairs of admitted buyers admitted in the other order than they joined (a Fenwick tree: n log n). */
function inversionsOf(fates: readonly Fate[]): number {
  const admitted = fates.filter((f) => f.ticket !== undefined && f.place !== undefined).sort((a, b) => a.ticket! - b.ticket!)
  const size = Math.max(0, ...admitted.map((f) => f.place!)) + 1
  const tree = new Array<number>(size + 1).fill(0)
  let inversions = 0
  admitted.forEach((f, seen) => {
    let below = 0
    for (let k = f.place!; k > 0; k -= k & -k) below += tree[k]!
    inversions += seen - below // earlier tickets with a later place
    for (let k = f.place!; k <= size; k += k & -k) tree[k]!++
  })
  return inversions
}

const perSecond = (times: readonly number[]) => {
  const out = new Array<number>(Math.ceil(Math.max(0, ...times) / 1000) + 1).fill(0)
  for (const t of times) out[Math.floor(t / 1000)]!++
  return out
}

async function arm(name: 'room' | 'no-room' | 'warm-up', buyerCount = BUYERS, arrivalMs = ARRIVAL_MS) {
  const sale = await createSale(name, name !== 'no-room')
  const buyers = await Promise.all(
    Array.from({ length: buyerCount }, async (_, i) => ({
      authorization: `Bearer ${await issuer.issue({ userId: `wr-${stamp}-${name}-${i}`, roles: ['buyer'] }, 3_600)}`,
      'x-forwarded-for': `10.${208 + (i >> 16)}.${(i >> 8) & 255}.${i & 255 || 1}`,
    })),
  )
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([n, pid]) => [n, cpuSeconds(pid)]))
  const clientBefore = process.cpuUsage()
  log(`${name}: ${buyerCount} buyers over ${arrivalMs / 1000} s for ${STOCK} units ... `)
  const t0 = performance.now()
  const fates = await Promise.all(
    buyers.map(async (headers, i) => {
      await sleep(Math.max(0, t0 + (i / buyerCount) * arrivalMs - performance.now()))
      return name === 'no-room' ? directBuyer(sale, headers, i, t0) : roomBuyer(sale, headers, i, t0)
    }),
  )
  // The room is the arm's own: closed now, so its line stops being reported (it would stay a day).
  if (name !== 'no-room') await call('DELETE', `/admin/waiting-rooms/${sale.id}`, { authorization: `Bearer ${adminToken}` })
  if (process.env['ROOM_TRACE']) writeFileSync(`${process.env['ROOM_TRACE']}-${name}.json`, JSON.stringify(fates))
  const cpu: Record<string, number> = {}
  for (const [n, pid] of Object.entries(processes)) {
    const [a, b] = [cpuBefore[n], cpuSeconds(pid)]
    if (a !== undefined && b !== undefined) cpu[n] = round(b - a, 2)
  }
  const client = process.cpuUsage(clientBefore)
  const accepted = fates.flatMap((f) => (f.acceptedAt === undefined ? [] : [f.acceptedAt]))
  const lastAccepted = Math.max(0, ...accepted)
  const told = fates.flatMap((f) => (f.toldSoldOutWhileWaitingAt === undefined ? [] : [f.toldSoldOutWhileWaitingAt - lastAccepted]))
  const outcomes: Record<string, number> = {}
  for (const f of fates) outcomes[f.outcome] = (outcomes[f.outcome] ?? 0) + 1
  const result = {
    sale: sale.id,
    sold: accepted.length,
    outcomes: Object.fromEntries(Object.entries(outcomes).sort((a, b) => b[1] - a[1])),
    answeredInBudget: round(fates.filter((f) => f.inBudget).length / buyerCount, 4),
    unavailable: fates.reduce((n, f) => n + f.unavailable, 0),
    inversions: inversionsOf(fates),
    lastAcceptedMs: round(lastAccepted),
    toldSoldOutAfterLastUnitMs: { count: told.length, p50: quantile(told, 0.5), p99: quantile(told, 0.99), max: quantile(told, 1) },
    answerEveryoneMs: round(Math.max(...fates.map((f) => f.answeredAt))),
    admittedPerSecond: perSecond(fates.flatMap((f) => (f.admittedAt === undefined ? [] : [f.admittedAt]))),
    toldSoldOutPerSecond: perSecond(fates.flatMap((f) => (f.toldSoldOutWhileWaitingAt === undefined ? [] : [f.toldSoldOutWhileWaitingAt]))),
    unavailablePerSecond: perSecond(fates.flatMap((f) => (f.unavailable > 0 ? [f.answeredAt] : []))),
    cpuSeconds: cpu,
    clientCpuSeconds: round((client.user + client.system) / 1e6, 2),
    verify: await runVerify(ROOT, `the ${name} arm`),
  }
  log(`sold ${result.sold}, ${round(result.answeredInBudget * 100, 2)}% answered within 2 s, ${result.unavailable} × 503, verify ${result.verify}\n`)
  return result
}

// Warm-up, not recorded: JIT, pools, scripts and caches of both paths (a gateway in service is warm).
await arm('warm-up', Math.min(1_000, BUYERS), Math.min(2_000, ARRIVAL_MS))
const room = await arm('room')
const noRoom = await arm('no-room')
await dispatcher.close()

const noticeMs = room.toldSoldOutAfterLastUnitMs.max ?? 0
const met = {
  sold: room.sold === STOCK,
  answeredInBudget: room.answeredInBudget >= GOALS.answeredInBudget,
  roomUnavailable: room.unavailable <= GOALS.roomUnavailable,
  inversions: MODE !== 'fifo' || room.inversions <= GOALS.inversions,
  soldOutNotice: noticeMs <= GOALS.soldOutNoticeMs,
  verify: room.verify === 'pass' && noRoom.verify === 'pass',
}
const pct = (x: number) => round(x * 100, 2)
const out = {
  case: 'waiting-room',
  ...(VARIANT ? { variant: VARIANT } : {}),
  date: new Date().toISOString(),
  machine: `${availableParallelism()} cores; the client, the stack and Redis on one machine`,
  ratio: round(room.sold / STOCK, 3),
  goal: 1,
  goalText: '= 1× (every unit sold)',
  unit: '% of buyers with a ticket or a definitive answer within 2 s',
  timelineUnit: 'buyers per second, from the first arrival',
  throughput: { [`room (${MODE})`]: pct(room.answeredInBudget), 'no room': pct(noRoom.answeredInBudget) },
  rounds: 1,
  checks: {
    sold: { value: room.sold, goal: `= ${STOCK}`, label: 'units sold with the room' },
    answeredInBudget: { value: pct(room.answeredInBudget), goal: '= 100%', label: 'buyers with a ticket or a definitive answer within 2 s (%)' },
    roomUnavailable: { value: room.unavailable, goal: '= 0', label: '503s to buyers in the room' },
    noRoomUnavailable: {
      value: noRoom.outcomes['order 503 GATEWAY_ERR_OVERLOADED'] ?? 0,
      goal: 'none (the arm without a room, for comparison)',
      label: '503s without a room',
    },
    inversions: { value: room.inversions, goal: '= 0 (FIFO)', label: 'order inversions' },
    soldOutNotice: { value: noticeMs, goal: '≤ 1000 ms', label: 'ms from the last accepted order until the last buyer in line was told sold out' },
  },
  met,
  arms: {
    'room: admitted': { goodputBySecond: room.admittedPerSecond },
    'room: told sold out in line': { goodputBySecond: room.toldSoldOutPerSecond },
    'no room: 503': { goodputBySecond: noRoom.unavailablePerSecond },
  },
  // The client runs on the same cores as the stack: when it burns about as much CPU as the gateway, the
  // latencies it measures include its own queueing (the gateway's histogram is the server's side of it).
  note: `During the room arm this client used ${room.clientCpuSeconds} CPU-s and the gateway ${room.cpuSeconds['gateway'] ?? '?'} (without a room: ${noRoom.clientCpuSeconds} and ${noRoom.cpuSeconds['gateway'] ?? '?'}), on ${availableParallelism()} cores shared with the whole stack; latencies are measured at the client and include its own queueing. A buyer in a room makes two or three requests (join, poll, order) where a buyer without one makes one.`,
  runs: { room, noRoom },
  settings: { buyers: BUYERS, stock: STOCK, arrivalSeconds: ARRIVAL_MS / 1000, mode: MODE },
  services: checkout ? { commit: checkout.commit, modified: checkout.modified } : null,
}
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
const file = `waiting-room${VARIANT ? `-${VARIANT}` : ''}.json`
writeFileSync(join(ROOT, 'bench', 'results', file), `${JSON.stringify(out, null, 2)}\n`)
log(`\nwaiting-room: ${JSON.stringify(met)}\n  written to bench/results/${file} (make bench-report draws it)\n`)
if (!met.verify) process.exit(1)
