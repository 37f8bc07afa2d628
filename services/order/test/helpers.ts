/**
 * The order service on the real stack, end to end: a database of its own (with the inventory schema),
 * the real inventory service started as a process on a free port, the order app built in-process
 * (app.inject()), uniquely named Kafka topics, and the worker consuming them in-process or as a process.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys, type TokenIssuer } from '@flashsale/auth'
import { createDatabase, type Database } from '@flashsale/db'
import { TOPICS, createKafka, type Batch, type Consumer, type IncomingMessage, type KafkaClient, type Producer } from '@flashsale/kafka'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { createTestDatabase, createTestRedis, createTestTopics, freePort, type TestDatabase, type TestTopics } from '@flashsale/testkit'
import { buildApp } from '../src/app.ts'
import { createDeadLetterTooling, type DeadLetterTooling } from '../src/clients/dead-letter-tooling.ts'
import { createInventoryClient, type InventoryClient } from '../src/clients/inventory-client.ts'
import { createOrderEventsPublisher } from '../src/clients/order-events.ts'
import { readConfig, type Config } from '../src/config.ts'
import type { SweepSettings } from '../src/domain/ports.ts'
import type { SweepDeps } from '../src/domain/sweep-unpaid-orders.ts'
import { migrateOrders } from '../src/store/migrations.ts'
import { createStatusCache } from '../src/store/redis-stores.ts'
import { createWorkerContext } from '../src/worker/context.ts'
import { createOrderBatchHandler } from '../src/worker/handle-order-batch.ts'

const ROOT = join(import.meta.dirname, '..', '..', '..')
// ORDER_TEST_LOGS=1 shows the app's and worker's warnings on stderr.
const quiet = () =>
  createLogger({
    service: 'order-test',
    level: 'warn',
    destination: process.env['ORDER_TEST_LOGS'] ? process.stderr : new Writable({ write: (_c, _e, done) => done() }),
  }).logger

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}:\n${output()}`)
    try {
      if ((await fetch(url)).status === 200) return
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} never became ready:\n${output()}`)
}

export interface ServiceProcess {
  readonly url: string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export async function startProcess(script: string, env: Record<string, string>, readyPath: string, port: number): Promise<ServiceProcess> {
  let output = ''
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', join(ROOT, script)], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)))
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)))
  const url = `http://127.0.0.1:${port}`
  await waitReady(`${url}${readyPath}`, child, () => output)
  return {
    url,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode)
        child.once('exit', (code) => resolve(code))
        child.kill(signal)
      }),
  }
}

export interface OrderHarness {
  readonly app: FastifyInstance
  /** The same order API on another Redis client or database (e.g. one whose server is gone); closed with the harness. */
  appWith(overrides: { redis?: Redis; db?: Database }): Promise<FastifyInstance>
  readonly config: Config
  readonly db: Database
  readonly redis: Redis
  readonly topics: TestTopics<'ordersRequested' | 'ordersEvents' | 'ordersDlq'>
  readonly kafka: KafkaClient
  readonly producer: Producer
  readonly inventory: InventoryClient
  readonly inventoryUrl: string
  readonly issuer: TokenIssuer
  readonly testDb: TestDatabase
  readonly env: Record<string, string>
  buyerToken(userId: string): Promise<string>
  adminToken(): Promise<string>
  createSale(overrides?: Record<string, unknown>): Promise<{ saleId: string; sku: string }>
  placeOrder(userId: string, body: Record<string, unknown>, idempotencyKey?: string | null): Promise<LightMyRequestResponse>
  /** Starts the worker in this process on the suite's topics; returns a stop function. `wrap` decorates its batch handler (metrics). */
  startWorker(groupId?: string, options?: { wrap?: (handle: (batch: Batch) => Promise<void>) => (batch: Batch) => Promise<void> }): Promise<() => Promise<void>>
  /** The DLQ tooling on the suite's topics (also behind the app's /admin/dlq). */
  readonly dlq: DeadLetterTooling
  /** A sweeper pass's dependencies on the suite's stack; one per simulated sweeper process. */
  sweepDeps(overrides?: Partial<SweepSettings>): SweepDeps
  /** Units the stock gate (Redis) says are available. */
  gateAvailable(saleId: string): Promise<number>
  /** The gate's reservation of an order (admin view). */
  reservation(orderId: string): Promise<{ state: string; qty: number } | undefined>
  /** Every message of a topic now, read with a throwaway consumer group. */
  readTopic(topic: string): Promise<IncomingMessage[]>
  /** app.inject() as a buyer (or as an admin with userId 'admin-1'). */
  as(userId: string | 'admin', request: { method?: 'GET' | 'POST'; url: string; payload?: unknown }): Promise<LightMyRequestResponse>
  ledger(saleId: string): Promise<{ total: number; sold: number }>
  orderRows(saleId: string): Promise<{ id: string; user_id: string; status: string; reason: string | null; qty: number }[]>
  /** Polls until `check` returns true (bounded), for the worker's asynchronous work. */
  eventually(check: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function createOrderHarness(label: string, options: { inventoryEnv?: Record<string, string> } = {}): Promise<OrderHarness> {
  const [testDb, testRedis, topics] = await Promise.all([
    createTestDatabase(`order_${label}`),
    createTestRedis(`order-${label}`),
    createTestTopics(`order-${label}`, { ordersRequested: TOPICS.ordersRequested, ordersEvents: TOPICS.ordersEvents, ordersDlq: TOPICS.ordersDlq }),
  ])
  const cleanups: (() => Promise<unknown>)[] = [() => testDb.cleanup(), () => testRedis.cleanup(), () => topics.cleanup()]
  const run = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
  }
  try {
    const keys = await generateSigningKeys()
    const issuer = await createTokenIssuer(keys.privateJwk)
    const verifier = await createTokenVerifier(keys.publicJwk)
    const redisUrl = testRedis.url
    const base = {
      PG_PRIMARY_URL: testDb.primaryUrl,
      PG_REPLICA_URLS: testDb.replicaUrls.join(','),
      REDIS_URL: redisUrl,
      KAFKA_BROKERS: topics.brokers.join(','),
      AUTH_JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
      LOG_LEVEL: 'warn',
    }

    // The real inventory service (it migrates its schema at boot).
    const inventoryPort = await freePort()
    const inventoryProcess = await startProcess(
      'services/inventory/src/server.ts',
      {
        ...base,
        PORT: String(inventoryPort),
        RECONCILE_INTERVAL_MS: '0',
        SHUTDOWN_DRAIN_MS: '0',
        HOT_SALE_RATE_PER_SECOND: '100000',
        HOT_SALE_BURST: '100000',
        // The suites of this folder run in parallel on a 2-core machine beside the race tests: a Redis
        // command may wait on the CPU past the production budget (500 ms) and answer 503 "gate unavailable",
        // which is the fail-closed gate working, not what these tests are about.
        REDIS_COMMAND_TIMEOUT_MS: '10000',
        ...options.inventoryEnv,
      },
      '/health/ready',
      inventoryPort,
    )
    cleanups.push(() => inventoryProcess.stop())

    const serviceToken = await issuer.issue({ userId: 'svc-order-worker', roles: ['admin'] }, 3600)
    const env = {
      ...base,
      INVENTORY_URLS: inventoryProcess.url,
      // Invariant tests push thousands of concurrent requests through one 2-core machine: give calls room,
      // so what is tested is the order path, not the breaker (which has tests of its own).
      INVENTORY_TIMEOUT_MS: '20000',
      INVENTORY_BREAKER_SLOW_CALL_MS: '20000',
      INVENTORY_BREAKER_FAILURE_RATE: '0.5',
      KAFKA_SEND_TIMEOUT_MS: '3000',
      INVENTORY_SERVICE_TOKEN: serviceToken,
      ORDERS_REQUESTED_TOPIC: topics.names.ordersRequested,
      ORDERS_EVENTS_TOPIC: topics.names.ordersEvents,
      ORDERS_DLQ_TOPIC: topics.names.ordersDlq,
    }
    const config = readConfig(env)
    const logger = quiet()
    const metrics = createProcessMetrics({ service: 'order-test' })
    const redis = testRedis.redis
    const db = createDatabase({ primaryUrl: testDb.primaryUrl, replicaUrls: testDb.replicaUrls, registry: metrics.registry, maxReplicaLagMs: 60_000 })
    cleanups.push(() => db.close())
    await migrateOrders(db.primary)
    const kafka = createKafka({ brokers: topics.brokers, clientId: `order-test-${label}`, logger })
    const producer = await kafka.createProducer()
    cleanups.push(() => producer.close())
    const inventory = createInventoryClient({
      urls: [inventoryProcess.url],
      timeoutMs: config.INVENTORY_TIMEOUT_MS,
      breaker: {
        failureRateThreshold: config.INVENTORY_BREAKER_FAILURE_RATE,
        slowCallMs: config.INVENTORY_BREAKER_SLOW_CALL_MS,
        minimumCalls: config.INVENTORY_BREAKER_MIN_CALLS,
      },
    })
    cleanups.push(() => inventory.close())
    const steps = inventory.reservationSteps(serviceToken)
    const dlq = createDeadLetterTooling({ kafka, producer, db, dlqTopic: topics.names.ordersDlq, requestedTopic: topics.names.ordersRequested, gate: steps })
    const app = await buildApp(config, { logger, metrics, verifier, redis, db, producer, inventory, ordersRequestedTopic: topics.names.ordersRequested, dlq })
    const appWith = async (overrides: { redis?: Redis; db?: Database }) => {
      const otherMetrics = createProcessMetrics({ service: 'order-test-other' })
      const built = await buildApp(config, {
        logger,
        metrics: otherMetrics,
        verifier,
        redis: overrides.redis ?? redis,
        db: overrides.db ?? db,
        producer,
        inventory,
        ordersRequestedTopic: topics.names.ordersRequested,
        dlq,
      })
      cleanups.push(async () => {
        await built.close()
        otherMetrics.stop()
      })
      return built
    }
    // The worker's context as worker/start.ts makes it, on the suite's stack.
    const workerCtx = createWorkerContext(db, {
      steps,
      statusCache: createStatusCache(redis, { ttlSeconds: 600 }),
      publish: createOrderEventsPublisher(producer, { topic: topics.names.ordersEvents }),
      log: logger,
    })
    cleanups.push(async () => {
      await app.close()
      metrics.stop()
    })

    const adminToken = () => issuer.issue({ userId: 'admin-1', roles: ['admin'] })
    const harness: OrderHarness = {
      app,
      appWith,
      config,
      db,
      redis,
      topics,
      kafka,
      producer,
      inventory,
      inventoryUrl: inventoryProcess.url,
      issuer,
      testDb,
      env,
      buyerToken: (userId) => issuer.issue({ userId, roles: ['buyer'] }),
      adminToken,
      async createSale(overrides = {}) {
        const now = Date.now()
        const body = {
          id: `sale-${randomUUID().slice(0, 8)}`,
          sku: `SKU-${randomUUID().slice(0, 8)}`,
          totalUnits: 10,
          perUserLimit: 2,
          startsAt: new Date(now - 60_000).toISOString(),
          endsAt: new Date(now + 3_600_000).toISOString(),
          reservationTtlSeconds: 600,
          ...overrides,
        }
        const res = await fetch(`${inventoryProcess.url}/admin/sales`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
        if (res.status !== 201) throw new Error(`creating a sale answered ${res.status}: ${await res.text()}`)
        // GET /sales?sku= reads the replicas in turn: wait until every one has the new sale (several answers
        // in a row), as they long have before a real sale opens.
        let inARow = 0
        await harness.eventually(async () => {
          const found = (await (await fetch(`${inventoryProcess.url}/sales?sku=${body.sku}`)).json()) as { sales: unknown[] }
          inARow = found.sales.length > 0 ? inARow + 1 : 0
          return inARow >= 4
        }, 'the sale to reach the replicas')
        return { saleId: body.id, sku: body.sku }
      },
      async placeOrder(userId, body, idempotencyKey = randomUUID()) {
        return app.inject({
          method: 'POST',
          url: '/orders',
          headers: { authorization: `Bearer ${await harness.buyerToken(userId)}`, ...(idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey }) },
          payload: body,
        })
      },
      dlq,
      sweepDeps: (overrides = {}) => ({ ...workerCtx, sweep: { ...workerCtx.sweep, ...overrides } }),
      async gateAvailable(saleId) {
        const res = await fetch(`${inventoryProcess.url}/sales/${saleId}`)
        return ((await res.json()) as { approximateAvailable: number }).approximateAvailable
      },
      async reservation(orderId) {
        const res = await fetch(`${inventoryProcess.url}/reservations/${orderId}`, { headers: { authorization: `Bearer ${await adminToken()}` } })
        return res.status === 200 ? ((await res.json()) as { reservation: { state: string; qty: number } }).reservation : undefined
      },
      async readTopic(topic) {
        const expected = new Map([...(await kafka.consumerLag(`read-${randomUUID()}`, topic))].filter(([, n]) => n > 0))
        const total = [...expected.values()].reduce((a, b) => a + b, 0)
        if (total === 0) return []
        const seen: IncomingMessage[] = []
        const reader = await kafka.createConsumer({ groupId: `read-${randomUUID()}`, topics: [topic], fromBeginning: true })
        try {
          await reader.run(async (batch) => void seen.push(...batch.messages))
          await harness.eventually(async () => seen.length >= total, `${total} messages of ${topic}`)
        } finally {
          await reader.close()
        }
        return seen
      },
      async as(userId, { method = 'GET', url, payload }) {
        const token = userId === 'admin' ? await adminToken() : await harness.buyerToken(userId)
        return app.inject({
          method,
          url,
          headers: { authorization: `Bearer ${token}` },
          ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
        })
      },
      async startWorker(groupId = `order-worker-${randomUUID().slice(0, 8)}`, { wrap = (handle: (batch: Batch) => Promise<void>) => handle } = {}) {
        const consumer: Consumer = await kafka.createConsumer({ groupId, topics: [topics.names.ordersRequested], fromBeginning: true })
        const shutdown = new AbortController()
        const handle = createOrderBatchHandler({
          ctx: workerCtx,
          producer,
          dlqTopic: topics.names.ordersDlq,
          maxAttempts: 3,
          backoff: { baseMs: 10, capMs: 200 },
          isOutage: () => false,
          signal: shutdown.signal,
          log: logger,
          onPersisted: (summary) => {
            if (process.env['ORDER_TEST_LOGS']) console.error('worker persisted', summary)
          },
          onDeadLetter: (cls) => {
            if (process.env['ORDER_TEST_LOGS']) console.error('worker dead-lettered', cls)
          },
        })
        await consumer.run(wrap(handle))
        const stop = async () => {
          await consumer.close()
          shutdown.abort(new Error('test over'))
        }
        cleanups.push(stop)
        return stop
      },
      async ledger(saleId) {
        const { rows } = await db.query<{ total: number; sold: number }>('SELECT total, sold FROM inventory.stock WHERE sale_id = $1', [saleId])
        if (!rows[0]) throw new Error(`no stock row for ${saleId}`)
        return rows[0]
      },
      async orderRows(saleId) {
        const { rows } = await db.query<{ id: string; user_id: string; status: string; reason: string | null; qty: number }>(
          'SELECT id, user_id, status, reason, qty FROM orders.orders WHERE sale_id = $1 ORDER BY requested_at',
          [saleId],
        )
        return rows
      },
      async eventually(check, what, timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      },
      close: run,
    }
    return harness
  } catch (err) {
    await run()
    throw err
  }
}

export { freePort }
