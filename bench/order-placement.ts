/**
 * Order placement throughput ÷ a bare Fastify POST handler, side by side in one run (the project's
 * goal, listed in docs/benchmarks.md: >= 0.5). The order arm is the real path of POST /orders on one order API process:
 * token verification, body schema, Idempotency-Key, the SKU's current sale (cached), the reservation on
 * the inventory service (HTTP → the Redis Lua gate), the idempotent acks=all produce of `orders.requested`
 * to Kafka, 202. The bare arm (bench/fixtures/bare-post.ts) parses and checks the same body and answers
 * 202. Only 202s count. Load: autocannon from this process, the same connections and body for both arms,
 * every order request with a fresh Idempotency-Key and one of USERS buyers' tokens, arms alternating,
 * each warmed up first. The sale has stock and per-buyer limits no run can exhaust; the worker is not
 * started (persisting is the worker-batching case), so the run measures placement alone. The CPU each
 * process spent per 202 is recorded (Linux /proc). The services get a database and topics of their own
 * (the testkit's, dropped at the end), so the stack's data is untouched and `make verify` unaffected.
 *
 *   node --env-file=.local/stack.env --env-file=.local/auth.env bench/order-placement.ts [--seconds 5] [--rounds 3] [--connections 32]
 *
 * Writes bench/results/order-placement.json.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type autocannon from 'autocannon'
import { createTokenIssuer } from '@flashsale/auth'
import { TOPICS } from '@flashsale/kafka'
import { createTestDatabase, createTestTopics } from '@flashsale/testkit'
import { ratioOf, requireEnv, runArms, startNode, stopAll, waitUp } from './lib.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' } },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const USERS = 500
const ROOT = join(import.meta.dirname, '..')

requireEnv(
  ['PG_PRIMARY_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'AUTH_JWT_PRIVATE_JWK'],
  'run with --env-file=.local/stack.env --env-file=.local/auth.env after make infra-up (make bench-order does both)',
)

const INVENTORY = 58_121
const ORDER = 58_122
const BARE = 58_123
const issuer = await createTokenIssuer(JSON.parse(process.env['AUTH_JWT_PRIVATE_JWK']!))
const adminToken = await issuer.issue({ userId: 'bench-operator', roles: ['admin'] }, 3_600)

// A database and topics of the benchmark's own, the schema applied as make demo applies it.
const db = await createTestDatabase('bench_order_placement')
const topics = await createTestTopics('bench-order-placement', { requested: TOPICS.ordersRequested, events: TOPICS.ordersEvents, dlq: TOPICS.ordersDlq })
const isolated = { PG_PRIMARY_URL: db.primaryUrl, PG_REPLICA_URLS: db.replicaUrls.join(',') }
const migrate = startNode(join(ROOT, 'tools/demo/src/migrate.ts'), [], isolated)
const migrated = await new Promise<number | null>((resolve) => migrate.once('exit', resolve))
if (migrated !== 0) throw new Error(`migrations failed (exit ${migrated}); see the output above`)

const quiet = { ...isolated, LOG_LEVEL: 'warn', HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '0' }
const inventoryProcess = startNode(join(ROOT, 'services/inventory/src/server.ts'), [], { ...quiet, PORT: String(INVENTORY) })
await waitUp(`http://127.0.0.1:${INVENTORY}/health/ready`)
const orderProcess = startNode(join(ROOT, 'services/order/src/server.ts'), [], {
  ...quiet,
  PORT: String(ORDER),
  INVENTORY_URLS: `http://127.0.0.1:${INVENTORY}`,
  INVENTORY_SERVICE_TOKEN: adminToken,
  SHUTDOWN_DRAIN_MS: '0',
  ORDERS_REQUESTED_TOPIC: topics.names.requested,
  ORDERS_EVENTS_TOPIC: topics.names.events,
  ORDERS_DLQ_TOPIC: topics.names.dlq,
})
await waitUp(`http://127.0.0.1:${ORDER}/health/ready`)
const bareProcess = startNode(join(ROOT, 'bench/fixtures/bare-post.ts'), [String(BARE)])
await waitUp(`http://127.0.0.1:${BARE}/health/ready`)

// A sale of its own on a SKU of its own, open now, that no run can sell out.
const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)
const sku = `BENCH-${stamp}`
const sale = await fetch(`http://127.0.0.1:${INVENTORY}/admin/sales`, {
  method: 'POST',
  headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    id: `bench-${stamp}`,
    sku,
    title: 'Order placement benchmark',
    totalUnits: 10_000_000,
    perUserLimit: 10_000,
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  }),
})
if (sale.status !== 201) throw new Error(`creating the benchmark sale failed: ${sale.status} ${await sale.text()}`)

const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => issuer.issue({ userId: `bench-buyer-${i}`, roles: ['buyer'] }, 3_600)))
const body = JSON.stringify({ sku, qty: 1 })

/** The stack's own processes (Linux), so the CPU per 202 shows the broker's and Redis's share too. */
function stackProcess(pattern: RegExp): { pid: number } | undefined {
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (pattern.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '))) return { pid: Number(entry) }
    } catch {
      /* gone */
    }
  }
  return undefined
}
const kafka = stackProcess(/kafka\.Kafka /)
const redis = stackProcess(/^\S*redis-server /)
const infraProcesses = { ...(kafka ? { kafka } : {}), ...(redis ? { redis } : {}) }

let n = 0
const post = (port: number): autocannon.Options => ({
  url: `http://127.0.0.1:${port}`,
  connections: CONNECTIONS,
  duration: SECONDS,
  requests: [
    {
      method: 'POST',
      path: '/orders',
      body,
      // Every request a new order of one of the buyers: fresh Idempotency-Key, a buyer's token.
      setupRequest: (request) => ({
        ...request,
        headers: {
          ...request.headers,
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${tokens[n++ % USERS]}`,
          'idempotency-key': randomUUID(),
        },
      }),
    },
  ],
})
const { throughput, samples, non2xx, cpuUsPerRequest, cpuText } = await runArms(
  [
    ['bare-fastify', { bare: bareProcess }, post(BARE)],
    ['order-placement', { order: orderProcess, inventory: inventoryProcess, ...infraProcesses }, post(ORDER)],
  ],
  ROUNDS,
)
stopAll()
await Promise.all([db.cleanup(), topics.cleanup()])

const ratio = ratioOf(throughput['order-placement'], throughput['bare-fastify'])
const result = {
  case: 'order-placement',
  date: new Date().toISOString(),
  unit: '202 answers/s',
  cores: availableParallelism(),
  seconds: SECONDS,
  rounds: ROUNDS,
  connections: CONNECTIONS,
  users: USERS,
  throughput,
  samples,
  non2xx,
  cpuUsPerRequest,
  ratio,
  goal: 0.5,
  machine: `${availableParallelism()} cores shared by the load generator, the service(s), Redis, Kafka and PostgreSQL; the ratio is the result. CPU per 202: ${cpuText}`,
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
writeFileSync(join(ROOT, 'bench/results/order-placement.json'), `${JSON.stringify(result, null, 2)}\n`)
console.log(
  `bare Fastify ${throughput['bare-fastify']} 202/s, order placement ${throughput['order-placement']} 202/s (ratio ${ratio}, goal >= 0.5). ${result.machine}`,
)
