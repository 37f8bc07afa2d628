/**
 * make verify: checks the invariants against PostgreSQL, Redis and Kafka directly (src/checks.ts).
 *
 *   node tools/verify/src/bin/verify.ts [--wait <seconds>] [--json <file>]
 * Env: PG_PRIMARY_URL, REDIS_URL, KAFKA_BROKERS (from .local/stack.env), and optionally REDIS_KEY_PREFIX,
 * ORDERS_REQUESTED_TOPIC, ORDERS_DLQ_TOPIC, ORDERS_EVENTS_TOPIC, WORKER_GROUP_ID, PROJECTOR_GROUP_ID.
 * Exit: 0 every invariant holds · 1 a violation (listed) · 2 bad arguments or a server unreachable.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { createRedis, describeRedisUrl } from '@flashsale/redis'
import { createPrimaryPool, redact } from '@flashsale/db'
import { Type, loadConfig, parseList, stackEnv } from '@flashsale/config'
import { createKafka } from '@flashsale/kafka'
import { formatReport, verify } from '../index.ts'

function fail(message: string, fix: string): never {
  console.error(`verify: ${message}\n  how to fix: ${fix}`)
  process.exit(2)
}

let args
try {
  args = parseArgs({ options: { wait: { type: 'string', default: '60' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
} catch (err) {
  fail((err as Error).message, 'usage: verify.ts [--wait <seconds>] [--json <file>]')
}
if (args.help) {
  console.log('usage: verify.ts [--wait <seconds to let consumers drain, default 60>] [--json <file to write the report to>]')
  process.exit(0)
}
const waitSeconds = Number(args.wait)
if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > 3_600)
  fail(`--wait must be a number of seconds from 0 to 3600, got "${args.wait}"`, 'e.g. --wait 30')

let env
try {
  env = loadConfig(
    Type.Object({
      PG_PRIMARY_URL: stackEnv.PG_PRIMARY_URL,
      REDIS_URL: stackEnv.REDIS_URL,
      KAFKA_BROKERS: stackEnv.KAFKA_BROKERS,
      REDIS_KEY_PREFIX: Type.String({ default: '', description: "key prefix of the services' Redis keys (tests only)" }),
      ORDERS_REQUESTED_TOPIC: Type.String({ default: 'orders.requested' }),
      ORDERS_DLQ_TOPIC: Type.String({ default: 'orders.dlq' }),
      ORDERS_EVENTS_TOPIC: Type.String({ default: 'orders.events' }),
      WORKER_GROUP_ID: Type.String({ default: 'order-worker', description: '"none" = do not check its lag' }),
      PROJECTOR_GROUP_ID: Type.String({ default: 'review-verified-purchases', description: '"none" = do not check its lag' }),
    }),
    process.env,
  )
} catch (err) {
  fail((err as Error).message, "run it with the stack's env: make verify (or node --env-file=.local/stack.env tools/verify/src/bin/verify.ts)")
}

const pool = createPrimaryPool(env.PG_PRIMARY_URL, { role: 'primary', name: 'verify', max: 2, min: 0, connectionTimeoutMillis: 5_000 })
const redis = createRedis(env.REDIS_URL, { keyPrefix: env.REDIS_KEY_PREFIX, maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 5_000 })
const quiet = () => {}
const kafka = createKafka({ brokers: parseList(env.KAFKA_BROKERS), clientId: 'verify', logger: { debug: quiet, info: quiet, warn: quiet, error: quiet } })

try {
  await pool
    .query('SELECT 1')
    .catch((err: Error) =>
      fail(`PostgreSQL at ${redact(env.PG_PRIMARY_URL)} is unreachable: ${err.message}`, 'make infra-up (or make infra-status to see what is down)'),
    )
  await redis
    .connect()
    .catch((err: Error) => fail(`Redis (${describeRedisUrl(env.REDIS_URL)}) is unreachable: ${err.message}`, 'make infra-up (or make infra-status)'))
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('orders', 'inventory')`)
  if (rows[0]?.n !== 2)
    fail(
      'the orders and inventory schemas do not exist in this database',
      'start the services once (make services-up or make demo): they apply their migrations at boot',
    )

  const report = await verify({
    pg: pool,
    redis,
    kafka,
    topics: { requested: env.ORDERS_REQUESTED_TOPIC, dlq: env.ORDERS_DLQ_TOPIC },
    groups: [
      { groupId: env.WORKER_GROUP_ID, topic: env.ORDERS_REQUESTED_TOPIC },
      { groupId: env.PROJECTOR_GROUP_ID, topic: env.ORDERS_EVENTS_TOPIC },
    ].filter((g) => g.groupId !== 'none'),
    lagWaitMs: waitSeconds * 1_000,
    onProgress: (m) => process.stderr.write(`  … ${m}\n`),
  }).catch((err: Error) => fail(`could not read the stack: ${err.message}`, `is Kafka up at ${env.KAFKA_BROKERS}? make infra-status`))

  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true })
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`)
  }
  console.log(formatReport(report, { color: process.stdout.isTTY }))
  process.exitCode = report.ok ? 0 : 1
} finally {
  redis.disconnect()
  await pool.end()
}
