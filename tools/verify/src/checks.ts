/**
 * The invariants of docs/architecture.md, checked from the outside: PostgreSQL, Redis and Kafka are read
 * directly, never through a service, so a bug in a service cannot hide its own damage. Run after every
 * load run and drill (`make verify`), and by `make demo`.
 *
 * Each check returns its violations; none of them changes anything. The checks assume a quiet system (no
 * load running): `consumer-lag` waits for the workers to drain first, and `stock-agreement` re-reads when the
 * gate moved under it.
 */
import type { Redis } from 'ioredis'
import type { Queryable } from '@flashsale/db'
import { parseDeadLetter, readTopic, type IncomingMessage, type KafkaClient } from '@flashsale/kafka'
// The gate's key layout comes from the inventory service itself, so the two cannot drift apart.
import { saleKeys } from '../../../services/inventory/src/store/gate-store.ts'

export interface Violation {
  /** What is wrong: a sale, an order id, a consumer group. */
  readonly subject: string
  readonly detail: string
}

export interface CheckResult {
  readonly name: CheckName
  readonly ok: boolean
  /** One line: what was checked, how much of it. */
  readonly summary: string
  readonly violations: readonly Violation[]
}

export type CheckName =
  'consumer-lag' | 'no-oversell' | 'stock-ledger' | 'per-user-limit' | 'no-duplicates' | 'nothing-lost' | 'dead-letters' | 'stock-agreement' | 'gate-admission'

export interface SaleStats {
  readonly saleId: string
  readonly sku: string
  readonly state: string
  readonly total: number
  readonly sold: number
  /** Orders by status, and rejected/cancelled ones by reason ("rejected:sold_out"). */
  readonly orders: Readonly<Record<string, number>>
  readonly firstRequestedAt: string | null
  /** When the last unit was taken, if the sale sold out: the newest requested_at of a live order. */
  readonly soldOutAt: string | null
}

export interface VerifyReport {
  readonly ok: boolean
  readonly checkedAt: string
  readonly checks: readonly CheckResult[]
  readonly stats: {
    readonly accepted: number
    readonly persisted: number
    readonly deadLetters: number
    readonly deadLettersUnhandled: number
    readonly sales: readonly SaleStats[]
  }
}

export interface VerifyOptions {
  /** The PostgreSQL primary (the truth; replicas may lag). Holds the `orders` and `inventory` schemas. */
  readonly pg: Queryable
  /** A client with the same key prefix the services use (none in a real deployment). */
  readonly redis: Redis
  readonly kafka: KafkaClient
  readonly topics: { readonly requested: string; readonly dlq: string }
  /** Consumer groups whose lag must reach 0, with the topic each consumes. */
  readonly groups: readonly { readonly groupId: string; readonly topic: string }[]
  /** How long consumer lag may take to drain before it is a violation. */
  readonly lagWaitMs: number
  /** Called while waiting, for progress output. */
  readonly onProgress?: (message: string) => void
  readonly sleep?: (ms: number) => Promise<void>
}

/** At most this many violations are listed per check; the summary still counts them all. */
const MAX_LISTED = 20
const LIVE = `('confirmed', 'paid')`

export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const checks: CheckResult[] = []
  // Lag first: the other checks are only meaningful once the workers have caught up.
  checks.push(await checkConsumerLag(options))
  const saleRows = await readSales(options.pg)
  checks.push(checkOversell(saleRows), checkLedger(saleRows))
  checks.push(await checkPerUserLimit(options.pg), await checkDuplicates(options.pg))
  const lost = await checkNothingLost(options)
  checks.push(lost.check, lost.deadLetterCheck)
  checks.push(await checkStockAgreement(options, saleRows), await checkGateAdmission(options.pg))
  return {
    ok: checks.every((c) => c.ok),
    checkedAt: new Date().toISOString(),
    checks,
    stats: {
      accepted: lost.accepted,
      persisted: lost.persisted,
      deadLetters: lost.deadLetters,
      deadLettersUnhandled: lost.unhandled,
      sales: await saleStats(options.pg, saleRows),
    },
  }
}

function result(name: CheckName, summary: string, violations: Violation[]): CheckResult {
  const listed = violations.slice(0, MAX_LISTED)
  const more = violations.length - listed.length
  return { name, ok: violations.length === 0, summary: more > 0 ? `${summary} (${more} more violations not listed)` : summary, violations: listed }
}

// ---------------------------------------------------------------- consumer lag
async function checkConsumerLag({ kafka, groups, lagWaitMs, onProgress, sleep = defaultSleep }: VerifyOptions): Promise<CheckResult> {
  const deadline = Date.now() + lagWaitMs
  for (;;) {
    const lags = await Promise.all(groups.map(async (g) => ({ ...g, lag: sum((await kafka.consumerLag(g.groupId, g.topic)).values()) })))
    const behind = lags.filter((l) => l.lag > 0)
    if (behind.length === 0 || Date.now() >= deadline) {
      const summary = `${groups.length} consumer groups: ${lags.map((l) => `${l.groupId} on ${l.topic} lag ${l.lag}`).join(', ')}`
      return result(
        'consumer-lag',
        summary,
        behind.map((l) => ({
          subject: `group ${l.groupId}`,
          detail: `${l.lag} messages of ${l.topic} not consumed after ${Math.round(lagWaitMs / 1000)} s (is the consumer running? make infra-status; its log)`,
        })),
      )
    }
    onProgress?.(`waiting for consumers to drain: ${behind.map((l) => `${l.groupId} ${l.lag}`).join(', ')}`)
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())))
  }
}

// ---------------------------------------------------------------- PostgreSQL: stock and orders
interface SaleRow {
  readonly id: string
  readonly sku: string
  readonly state: string
  readonly total: number
  readonly sold: number
  readonly perUserLimit: number
  /** Units of live orders (pending payment or paid). */
  readonly liveUnits: number
}

async function readSales(pool: Queryable): Promise<SaleRow[]> {
  const { rows } = await pool.query<{ id: string; sku: string; state: string; total: number; sold: number; per_user_limit: number; live_units: number }>(
    `SELECT s.id, s.sku, s.state, st.total, st.sold, s.per_user_limit,
            coalesce((SELECT sum(o.qty) FROM orders.orders o WHERE o.sale_id = s.id AND o.status IN ${LIVE}), 0)::int AS live_units
       FROM inventory.sales s JOIN inventory.stock st ON st.sale_id = s.id
      ORDER BY s.created_at, s.id`,
  )
  return rows.map((r) => ({ id: r.id, sku: r.sku, state: r.state, total: r.total, sold: r.sold, perUserLimit: r.per_user_limit, liveUnits: r.live_units }))
}

/** No oversell: the units of live orders never exceed the sale's stock. */
function checkOversell(sales: readonly SaleRow[]): CheckResult {
  const violations = sales.flatMap((s) => [
    ...(s.liveUnits > s.total ? [{ subject: `sale ${s.id}`, detail: `oversold: live orders hold ${s.liveUnits} units, stock is ${s.total}` }] : []),
    ...(s.sold > s.total ? [{ subject: `sale ${s.id}`, detail: `the ledger sold ${s.sold} of ${s.total} units` }] : []),
  ])
  return result('no-oversell', `${sales.length} sales, ${sum(sales.map((s) => s.liveUnits))} units in live orders`, violations)
}

/** The ledger (inventory.stock.sold) moves only with live orders: a difference is a lost or a doubled decrement. */
function checkLedger(sales: readonly SaleRow[]): CheckResult {
  const violations = sales
    .filter((s) => s.sold !== s.liveUnits)
    .map((s) => ({
      subject: `sale ${s.id}`,
      detail: `stock.sold is ${s.sold} but live orders hold ${s.liveUnits} units (${s.sold > s.liveUnits ? 'a decrement without an order, or a cancelled order whose units never came back' : 'an order without its decrement, or a duplicate'})`,
    }))
  return result('stock-ledger', `${sales.length} sales: inventory.stock.sold = units of confirmed + paid orders`, violations)
}

async function checkPerUserLimit(pool: Queryable): Promise<CheckResult> {
  const { rows } = await pool.query<{ sale_id: string; user_id: string; units: number; per_user_limit: number }>(
    `SELECT o.sale_id, o.user_id, sum(o.qty)::int AS units, s.per_user_limit
       FROM orders.orders o JOIN inventory.sales s ON s.id = o.sale_id
      WHERE o.status IN ${LIVE}
      GROUP BY o.sale_id, o.user_id, s.per_user_limit
     HAVING sum(o.qty) > s.per_user_limit
      ORDER BY o.sale_id, o.user_id`,
  )
  const { rows: orphans } = await pool.query<{ sale_id: string; n: number }>(
    `SELECT o.sale_id, count(*)::int AS n FROM orders.orders o LEFT JOIN inventory.sales s ON s.id = o.sale_id WHERE s.id IS NULL GROUP BY o.sale_id`,
  )
  return result('per-user-limit', "live units per buyer per sale within the sale's limit", [
    ...rows.map((r) => ({ subject: `sale ${r.sale_id}, user ${r.user_id}`, detail: `holds ${r.units} units, the limit is ${r.per_user_limit}` })),
    ...orphans.map((r) => ({ subject: `sale ${r.sale_id}`, detail: `${r.n} orders name a sale that inventory does not have` })),
  ])
}

/** One order per (buyer, idempotency key): the unique index guarantees it, unless someone dropped the index. */
async function checkDuplicates(pool: Queryable): Promise<CheckResult> {
  const { rows } = await pool.query<{ user_id: string; idempotency_key: string; ids: string[] }>(
    `SELECT user_id, idempotency_key, array_agg(id::text ORDER BY created_at) AS ids
       FROM orders.orders WHERE status <> 'rejected'
      GROUP BY user_id, idempotency_key HAVING count(*) > 1`,
  )
  return result(
    'no-duplicates',
    'one non-rejected order per (user, Idempotency-Key)',
    rows.map((r) => ({ subject: `user ${r.user_id}, key ${r.idempotency_key}`, detail: `${r.ids.length} orders: ${r.ids.join(', ')}` })),
  )
}

// ---------------------------------------------------------------- Kafka: nothing lost
interface LostResult {
  readonly check: CheckResult
  readonly deadLetterCheck: CheckResult
  readonly accepted: number
  readonly persisted: number
  readonly deadLetters: number
  readonly unhandled: number
}

/**
 * Every 202 is a message in orders.requested (the API answers 202 only once the send is acknowledged).
 * Each must have become a row in orders.orders (any status: all are terminal or awaiting payment) or
 * sit in the DLQ with its reason. A message that is not an order at all must be in the DLQ too.
 */
async function checkNothingLost({ pg: pool, kafka, topics }: VerifyOptions): Promise<LostResult> {
  const [requested, dead] = await Promise.all([
    readTopic(kafka, topics.requested, { groupPrefix: 'verify' }),
    readTopic(kafka, topics.dlq, { groupPrefix: 'verify' }),
  ])

  const deadLetterViolations: Violation[] = []
  const deadOrderIds = new Set<string>()
  const deadOrigins = new Set<string>()
  const deadPositions: { partition: number; offset: string }[] = []
  for (const m of dead) {
    deadPositions.push({ partition: m.partition, offset: m.offset })
    try {
      const letter = parseDeadLetter(m)
      deadOrigins.add(position(letter.origin.topic, letter.origin.partition, letter.origin.offset))
      const orderId = orderIdOf(m)
      if (orderId) deadOrderIds.add(orderId)
      if (letter.errorMessage.trim() === '') deadLetterViolations.push({ subject: at(m), detail: 'dead letter with an empty reason' })
    } catch (err) {
      deadLetterViolations.push({ subject: at(m), detail: `dead letter without a readable reason: ${(err as Error).message}` })
    }
  }
  const handled = await handledCount(pool, topics.dlq, deadPositions)

  const ids = new Map<string, IncomingMessage>()
  const violations: Violation[] = []
  for (const m of requested) {
    const id = orderIdOf(m)
    if (id) ids.set(id, m)
    else if (!deadOrigins.has(position(m.topic, m.partition, m.offset))) violations.push({ subject: at(m), detail: 'not an order, and not in the DLQ' })
  }
  const persisted = new Set<string>()
  const all = [...ids.keys()]
  for (let i = 0; i < all.length; i += 5_000) {
    const { rows } = await pool.query<{ id: string }>('SELECT id::text AS id FROM orders.orders WHERE id = ANY($1::uuid[])', [all.slice(i, i + 5_000)])
    for (const r of rows) persisted.add(r.id)
  }
  for (const [id, m] of ids) {
    if (!persisted.has(id) && !deadOrderIds.has(id))
      violations.push({ subject: `order ${id}`, detail: `accepted (${at(m)}) but neither in orders.orders nor in ${topics.dlq}` })
  }
  const inDlq = all.filter((id) => !persisted.has(id) && deadOrderIds.has(id)).length
  return {
    check: result('nothing-lost', `${requested.length} accepted orders in ${topics.requested}: ${persisted.size} persisted, ${inDlq} in the DLQ`, violations),
    deadLetterCheck: result(
      'dead-letters',
      `${dead.length} dead letters in ${topics.dlq}, ${dead.length - handled} not yet handled (make dlq)`,
      deadLetterViolations,
    ),
    accepted: requested.length,
    persisted: persisted.size,
    deadLetters: dead.length,
    unhandled: dead.length - handled,
  }
}

async function handledCount(pool: Queryable, topic: string, positions: readonly { partition: number; offset: string }[]): Promise<number> {
  if (positions.length === 0) return 0
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM orders.dlq_handled h
       JOIN unnest($2::int[], $3::bigint[]) AS p(partition, "offset") ON p.partition = h.partition AND p."offset" = h."offset"
      WHERE h.topic = $1`,
    [topic, positions.map((p) => p.partition), positions.map((p) => p.offset)],
  )
  return rows[0]?.n ?? 0
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function orderIdOf(m: Pick<IncomingMessage, 'value'>): string | undefined {
  try {
    const id = (JSON.parse(m.value.toString('utf8')) as { orderId?: unknown }).orderId
    return typeof id === 'string' && UUID.test(id) ? id.toLowerCase() : undefined
  } catch {
    return undefined
  }
}

const position = (topic: string, partition: number, offset: string): string => `${topic}/${partition}/${offset}`
const at = (m: IncomingMessage): string => `${m.topic} partition ${m.partition} offset ${m.offset}`

// ---------------------------------------------------------------- Redis ↔ PostgreSQL
/**
 * The gate's available units must equal total − max(sold (Postgres), persisted units its reservations still
 * hold) − units of reservations not yet persisted. (A cancelled order leaves `sold` before its reservation
 * is released, which may come much later.) The same formula as the inventory reconciler
 * (services/inventory/src/store/lua/reconcile.lua), read here without Lua: the gate's `seq` is read before
 * and after, and a gate that moved in between is read again.
 */
async function checkStockAgreement({ pg: pool, redis }: VerifyOptions, sales: readonly SaleRow[]): Promise<CheckResult> {
  const violations: Violation[] = []
  let compared = 0
  for (const sale of sales) {
    const [metaKey, availKey] = saleKeys(sale.id) as [string, string]
    let outcome: Violation | 'agree' | 'absent' | undefined
    for (let attempt = 0; attempt < 5 && outcome === undefined; attempt++) {
      const before = await redis.hget(metaKey, 'seq')
      const { rows } = await pool.query<{ sold: number; total: number }>('SELECT sold, total FROM inventory.stock WHERE sale_id = $1', [sale.id])
      const [meta, avail] = await Promise.all([redis.hmget(metaKey, 'state', 'gate', 'uncommitted', 'seq', 'committed'), redis.get(availKey)])
      if (meta[3] !== before) continue
      const ledger = rows[0]
      if (!ledger) break
      if (meta[0] === null || avail === null) {
        // A closed sale's gate may be gone (Redis restarted); an open one must be there (the reconciler rebuilds it).
        outcome =
          sale.state === 'closed'
            ? 'absent'
            : {
                subject: `sale ${sale.id}`,
                detail: `no stock gate in Redis for a ${sale.state} sale (Redis lost it? the inventory reconciler rebuilds it within RECONCILE_INTERVAL_MS)`,
              }
      } else if (meta[1] === 'rebuilding') {
        outcome = { subject: `sale ${sale.id}`, detail: 'the stock gate is being rebuilt; run make verify again in a few seconds' }
      } else {
        const held = Math.max(ledger.sold, Number(meta[4] ?? '0'))
        const expected = ledger.total - held - Number(meta[2] ?? '0')
        const heldText =
          held === ledger.sold ? `sold ${ledger.sold}` : `${held} persisted units still held (sold ${ledger.sold}; cancellations whose release is pending)`
        outcome =
          Number(avail) === expected
            ? 'agree'
            : {
                subject: `sale ${sale.id}`,
                detail: `Redis says ${avail} units available, Postgres says ${expected} (total ${ledger.total} − ${heldText} − ${meta[2] ?? 0} reserved, not yet persisted)${Number(avail) > expected ? ': the gate would admit more than the stock' : ''}`,
              }
      }
    }
    if (outcome === undefined) outcome = { subject: `sale ${sale.id}`, detail: 'the stock gate kept changing while it was read: is load still running?' }
    if (outcome === 'agree') compared++
    else if (outcome !== 'absent') violations.push(outcome)
  }
  return result('stock-agreement', `${compared} of ${sales.length} sales agree between Redis and Postgres`, violations)
}

/**
 * Over-admission after the fact: an order the gate admitted (the buyer got 202) that Postgres then refused
 * for stock or for the buyer's limit (`inventory.commit_units` is the last line of defence). Nothing is
 * oversold, but a buyer was told yes and then no: the gate handed out more than it had.
 */
async function checkGateAdmission(pool: Queryable): Promise<CheckResult> {
  const { rows } = await pool.query<{ sale_id: string; reason: string; n: number }>(
    `SELECT sale_id, reason, count(*)::int AS n FROM orders.orders
      WHERE status = 'rejected' AND reason IN ('sold_out', 'limit_reached') GROUP BY sale_id, reason ORDER BY sale_id, reason`,
  )
  const violations = rows.map((r) => ({
    subject: `sale ${r.sale_id}`,
    detail: `${r.n} accepted order(s) later rejected '${r.reason}' by Postgres: the stock gate admitted more than ${r.reason === 'sold_out' ? 'the stock' : "the buyer's limit"} allowed`,
  }))
  const admitted = rows.reduce((n, r) => n + r.n, 0)
  return result(
    'gate-admission',
    admitted === 0 ? 'no accepted order was refused by Postgres afterwards' : `${admitted} accepted order(s) refused by Postgres afterwards`,
    violations,
  )
}

// ---------------------------------------------------------------- stats for the demo summary
async function saleStats(pool: Queryable, sales: readonly SaleRow[]): Promise<SaleStats[]> {
  const { rows } = await pool.query<{ sale_id: string; status: string; reason: string | null; n: number }>(
    'SELECT sale_id, status, reason, count(*)::int AS n FROM orders.orders GROUP BY sale_id, status, reason',
  )
  const { rows: times } = await pool.query<{ sale_id: string; first: Date | null; last: Date | null }>(
    `SELECT sale_id, min(requested_at) AS first, max(requested_at) FILTER (WHERE status IN ${LIVE}) AS last FROM orders.orders GROUP BY sale_id`,
  )
  return sales.map((s) => {
    const orders: Record<string, number> = {}
    for (const r of rows.filter((r) => r.sale_id === s.id)) {
      orders[r.status] = (orders[r.status] ?? 0) + r.n
      if (r.reason && (r.status === 'rejected' || r.status === 'cancelled')) orders[`${r.status}:${r.reason}`] = (orders[`${r.status}:${r.reason}`] ?? 0) + r.n
    }
    const t = times.find((x) => x.sale_id === s.id)
    return {
      saleId: s.id,
      sku: s.sku,
      state: s.state,
      total: s.total,
      sold: s.sold,
      orders,
      firstRequestedAt: t?.first?.toISOString() ?? null,
      soldOutAt: s.sold >= s.total && t?.last ? t.last.toISOString() : null,
    }
  })
}

function sum(values: Iterable<number>): number {
  let n = 0
  for (const v of values) n += v
  return n
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
