/**
 * make verify must fail loudly on a broken state. Each test breaks one invariant in a consistent fixture on
 * the real stack (its own database, Redis prefix and topics), sees it caught, and puts the fixture back.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import pg from 'pg'
import { TOPICS, createKafka, deadLetterHeaders, type KafkaClient, type Producer } from '@flashsale/kafka'
import { createTestDatabase, createTestRedis, createTestTopics, waitFor, type TestDatabase, type TestRedis, type TestTopics } from '@flashsale/testkit'
// The checks read the schemas the services own; the fixture gets them from the services' own migrations.
import { saleKeys } from '../../../services/inventory/src/store/gate-store.ts'
import { migrateInventory } from '../../../services/inventory/src/store/migrations.ts'
import { migrateOrders } from '../../../services/order/src/store/migrations.ts'
import { verify, type CheckName, type VerifyOptions } from '../src/index.ts'

const SALE = 'verify-sale'
const SKU = 'SKU-VERIFY'
const [META, AVAIL] = saleKeys(SALE) as [string, string]

describe('make verify', () => {
  let db: TestDatabase
  let redis: TestRedis
  let topics: TestTopics<'requested' | 'dlq'>
  let pool: pg.Pool
  let kafka: KafkaClient
  let producer: Producer
  const group = `verify-test-worker-${randomUUID()}`
  const order = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

  const options = (overrides: Partial<VerifyOptions> = {}): VerifyOptions => ({
    pg: pool,
    redis: redis.redis,
    kafka,
    topics: topics.names,
    groups: [],
    lagWaitMs: 0,
    ...overrides,
  })
  const failing = async (overrides?: Partial<VerifyOptions>): Promise<CheckName[]> =>
    (await verify(options(overrides))).checks.filter((c) => !c.ok).map((c) => c.name)

  async function insertOrder(n: number, user: string, qty: number, status: string, { key = `key-${n}`, reason = null as string | null } = {}): Promise<void> {
    await pool.query(
      `INSERT INTO orders.orders (id, user_id, sale_id, sku, qty, idempotency_key, status, reason, reservation_expires_at, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + interval '10 minutes', now())`,
      [order(n), user, SALE, SKU, qty, key, status, reason],
    )
  }
  const requested = (n: number, user: string, qty: number) => ({
    key: order(n),
    value: JSON.stringify({
      type: 'order.requested',
      v: 1,
      orderId: order(n),
      userId: user,
      saleId: SALE,
      sku: SKU,
      qty,
      idempotencyKey: `key-${n}`,
      reservationExpiresAt: new Date().toISOString(),
      requestedAt: new Date().toISOString(),
    }),
    headers: {},
  })

  before(async () => {
    ;[db, redis, topics] = await Promise.all([
      createTestDatabase('verify'),
      createTestRedis('verify'),
      createTestTopics('verify', { requested: TOPICS.ordersRequested, dlq: TOPICS.ordersDlq }),
    ])
    pool = new pg.Pool({ connectionString: db.primaryUrl, max: 4 })
    await migrateInventory(pool)
    await migrateOrders(pool)
    kafka = createKafka({ brokers: topics.brokers, clientId: 'verify-test' })
    producer = await kafka.createProducer()

    // A consistent world: 10 units, 3 sold (orders 1 and 2), order 3 rejected, order 4 dead-lettered,
    // one reservation (1 unit) held by the gate and not yet persisted.
    await pool.query(
      `INSERT INTO inventory.sales (id, sku, total_units, per_user_limit, starts_at, ends_at, state) VALUES ($1, $2, 10, 2, now() - interval '1 hour', now() + interval '1 hour', 'active')`,
      [SALE, SKU],
    )
    await pool.query('INSERT INTO inventory.stock (sale_id, total) VALUES ($1, 10)', [SALE])
    await insertOrder(1, 'u1', 1, 'confirmed')
    await insertOrder(2, 'u2', 2, 'paid')
    await insertOrder(3, 'u3', 1, 'rejected', { reason: 'duplicate_request' })
    await pool.query('SELECT inventory.commit_units($1, 3)', [SALE])
    await redis.redis.hset(META, { state: 'active', uncommitted: '1', committed: '0', seq: '7', total: '10' })
    await redis.redis.set(AVAIL, '6')
    await producer.send(topics.names.requested, [requested(1, 'u1', 1), requested(2, 'u2', 2), requested(3, 'u3', 1), requested(4, 'u4', 1)])
    const failedAt = new Date()
    await producer.send(topics.names.dlq, [
      {
        ...requested(4, 'u4', 1),
        headers: deadLetterHeaders(
          {},
          {
            errorClass: 'OrderValidationError',
            errorMessage: 'qty above the sale limit',
            attempts: 1,
            firstFailureAt: failedAt,
            lastFailureAt: failedAt,
            origin: { topic: topics.names.requested, partition: 0, offset: '0' },
          },
        ),
      },
    ])
  })

  after(async () => {
    await producer?.close()
    await pool?.end()
    await Promise.all([db?.cleanup(), redis?.cleanup(), topics?.cleanup()])
  })

  test('a consistent state passes every check and counts what it saw', async () => {
    const report = await verify(options())
    assert.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    )
    assert.equal(report.ok, true)
    assert.equal(report.stats.accepted, 4)
    assert.equal(report.stats.persisted, 3)
    assert.equal(report.stats.deadLetters, 1)
    assert.equal(report.stats.deadLettersUnhandled, 1)
    const sale = report.stats.sales.find((s) => s.saleId === SALE)
    assert.deepEqual(sale?.orders, { confirmed: 1, paid: 1, rejected: 1, 'rejected:duplicate_request': 1 })
    assert.equal(sale?.sold, 3)
  })

  test('an extra order row (no stock decrement behind it) is caught by the ledger check, and the CLI exits 1 naming it', async () => {
    await insertOrder(100, 'u100', 1, 'confirmed')
    try {
      assert.deepEqual(await failing(), ['stock-ledger'])
      const cli = await promisify(execFile)(process.execPath, ['tools/verify/src/bin/verify.ts', '--wait', '0'], {
        env: {
          ...process.env,
          PG_PRIMARY_URL: db.primaryUrl,
          REDIS_URL: redis.url,
          REDIS_KEY_PREFIX: redis.prefix,
          KAFKA_BROKERS: topics.brokers.join(','),
          ORDERS_REQUESTED_TOPIC: topics.names.requested,
          ORDERS_DLQ_TOPIC: topics.names.dlq,
          // A group that has consumed nothing would fail consumer-lag; that check has its own test below.
          WORKER_GROUP_ID: 'none',
          PROJECTOR_GROUP_ID: 'none',
        },
      }).then(
        () => assert.fail('verify exited 0 on a broken state'),
        (err: { code: number; stdout: string }) => err,
      )
      assert.equal(cli.code, 1)
      assert.match(cli.stdout, /FAIL {2}stock-ledger .*\n.*sale verify-sale: stock\.sold is 3 but live orders hold 4 units/)
      assert.match(cli.stdout, /verify: 1 invariant\(s\) violated: stock-ledger\. See docs\/runbooks\/verify-failed\.md/)
    } finally {
      await pool.query('DELETE FROM orders.orders WHERE id = $1', [order(100)])
    }
  })

  test('live orders beyond the stock are reported as oversold', async () => {
    for (let n = 200; n < 208; n++) await insertOrder(n, `u${n}`, 1, 'confirmed')
    try {
      const checks = await failing()
      assert.ok(checks.includes('no-oversell'), `failing: ${checks.join(', ')}`)
      const report = await verify(options())
      assert.match(report.checks.find((c) => c.name === 'no-oversell')?.violations[0]?.detail ?? '', /oversold: live orders hold 11 units, stock is 10/)
    } finally {
      await pool.query('DELETE FROM orders.orders WHERE id = ANY($1::uuid[])', [Array.from({ length: 8 }, (_, i) => order(200 + i))])
    }
  })

  test('a buyer holding more than the per-user limit is caught even when the ledger agrees', async () => {
    await insertOrder(300, 'u2', 1, 'confirmed')
    await pool.query('SELECT inventory.commit_units($1, 1)', [SALE])
    await redis.redis.set(AVAIL, '5')
    try {
      assert.deepEqual(await failing(), ['per-user-limit'])
    } finally {
      await pool.query('DELETE FROM orders.orders WHERE id = $1', [order(300)])
      await pool.query('SELECT inventory.return_units($1, 1)', [SALE])
      await redis.redis.set(AVAIL, '6')
    }
  })

  test('a second order for the same (user, Idempotency-Key) is caught if the unique index is ever lost', async () => {
    await pool.query('DROP INDEX orders.orders_user_idempotency_key')
    await insertOrder(400, 'u1', 1, 'confirmed', { key: 'key-1' })
    await pool.query('SELECT inventory.commit_units($1, 1)', [SALE])
    await redis.redis.set(AVAIL, '5')
    try {
      const report = await verify(options())
      assert.deepEqual(
        report.checks.filter((c) => !c.ok).map((c) => c.name),
        ['no-duplicates'],
      )
      assert.match(report.checks.find((c) => c.name === 'no-duplicates')?.violations[0]?.detail ?? '', new RegExp(`2 orders: ${order(1)}, ${order(400)}`))
    } finally {
      await pool.query('DELETE FROM orders.orders WHERE id = $1', [order(400)])
      await pool.query('SELECT inventory.return_units($1, 1)', [SALE])
      await redis.redis.set(AVAIL, '6')
      await pool.query(`CREATE UNIQUE INDEX orders_user_idempotency_key ON orders.orders (user_id, idempotency_key) WHERE status <> 'rejected'`)
    }
  })

  test('Redis and Postgres disagreeing about available stock is drift', async () => {
    await redis.redis.set(AVAIL, '7')
    try {
      const report = await verify(options())
      assert.deepEqual(
        report.checks.filter((c) => !c.ok).map((c) => c.name),
        ['stock-agreement'],
      )
      assert.match(report.checks.find((c) => c.name === 'stock-agreement')?.violations[0]?.detail ?? '', /Redis says 7 units available, Postgres says 6/)
    } finally {
      await redis.redis.set(AVAIL, '6')
    }
  })

  test('a cancelled order whose release is pending: its units are still held, so the gate agrees; giving them out early is reported', async () => {
    // Order 1 (1 unit) cancelled: Postgres returned its unit, the gate still holds its persisted reservation.
    await redis.redis.hset(META, 'committed', '3')
    await pool.query(`UPDATE orders.orders SET status = 'cancelled', reason = 'payment_timeout' WHERE id = $1`, [order(1)])
    await pool.query('SELECT inventory.return_units($1, 1)', [SALE])
    try {
      assert.deepEqual(await failing(), [], 'available 6 = total 10 − 3 still held − 1 not yet persisted')
      await redis.redis.set(AVAIL, '7')
      const report = await verify(options())
      assert.deepEqual(
        report.checks.filter((c) => !c.ok).map((c) => c.name),
        ['stock-agreement'],
      )
      assert.match(
        report.checks.find((c) => c.name === 'stock-agreement')?.violations[0]?.detail ?? '',
        /Redis says 7 units available, Postgres says 6 .*still held.*admit more than the stock/,
      )
    } finally {
      await redis.redis.set(AVAIL, '6')
      await redis.redis.hset(META, 'committed', '0')
      await pool.query(`UPDATE orders.orders SET status = 'confirmed', reason = NULL WHERE id = $1`, [order(1)])
      await pool.query('SELECT inventory.commit_units($1, 1)', [SALE])
    }
  })

  test('an accepted order that Postgres later refused for stock or limit is over-admission by the gate', async () => {
    await insertOrder(500, 'u500', 1, 'rejected', { reason: 'sold_out' })
    await insertOrder(501, 'u501', 1, 'rejected', { reason: 'limit_reached' })
    try {
      const report = await verify(options())
      assert.deepEqual(
        report.checks.filter((c) => !c.ok).map((c) => c.name),
        ['gate-admission'],
      )
      const details = report.checks.find((c) => c.name === 'gate-admission')?.violations.map((v) => v.detail) ?? []
      assert.equal(details.length, 2)
      assert.match(details[0] ?? '', /1 accepted order\(s\) later rejected 'limit_reached'/)
      assert.match(details[1] ?? '', /1 accepted order\(s\) later rejected 'sold_out' by Postgres: the stock gate admitted more than the stock/)
    } finally {
      await pool.query('DELETE FROM orders.orders WHERE id = ANY($1)', [[order(500), order(501)]])
    }
  })

  test('an open sale whose gate Redis lost is reported, a closed one is not', async () => {
    await redis.redis.rename(AVAIL, `${AVAIL}-hidden`)
    try {
      assert.deepEqual(await failing(), ['stock-agreement'])
      await pool.query(`UPDATE inventory.sales SET state = 'closed' WHERE id = $1`, [SALE])
      assert.deepEqual(await failing(), [])
    } finally {
      await pool.query(`UPDATE inventory.sales SET state = 'active' WHERE id = $1`, [SALE])
      await redis.redis.rename(`${AVAIL}-hidden`, AVAIL)
    }
  })

  test('an accepted order that is neither persisted nor dead-lettered is lost; persisting it clears the check', async () => {
    await producer.send(topics.names.requested, [requested(500, 'u500', 1)])
    const report = await verify(options())
    assert.deepEqual(
      report.checks.filter((c) => !c.ok).map((c) => c.name),
      ['nothing-lost'],
    )
    assert.match(report.checks.find((c) => c.name === 'nothing-lost')?.violations[0]?.subject ?? '', new RegExp(order(500)))
    await insertOrder(500, 'u500', 1, 'rejected', { reason: 'duplicate_request' })
    assert.deepEqual(await failing(), [])
  })

  test('consumer lag is a violation until the group has consumed everything', async () => {
    const checks = await failing({ groups: [{ groupId: group, topic: topics.names.requested }] })
    assert.deepEqual(checks, ['consumer-lag'])
    const consumer = await kafka.createConsumer({ groupId: group, topics: [topics.names.requested], fromBeginning: true })
    void consumer.run(async () => {})
    try {
      await waitFor(
        'the group to consume every message',
        async () => (await failing({ groups: [{ groupId: group, topic: topics.names.requested }] })).length === 0,
        30_000,
        200,
      )
    } finally {
      await consumer.close()
    }
  })
})
