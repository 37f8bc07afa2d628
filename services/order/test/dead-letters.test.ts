import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Registry } from '@flashsale/metrics'
import { createWorkerMetrics } from '../src/worker/metrics.ts'
import { createOrderHarness, type OrderHarness } from './helpers.ts'

interface Entry {
  id: string
  partition: number
  offset: string
  key: string | null
  errorClass: string
  errorMessage: string
  attempts: number
  origin: { topic: string }
  originalHeaders: Record<string, string>
  handled?: { action: string }
}

const CLI = join(import.meta.dirname, '..', 'src', 'bin', 'dlq.ts')

describe('DLQ tooling: list, show, replay, discard (real Kafka, PostgreSQL, inventory)', () => {
  let h: OrderHarness
  const workerGroup = `order-worker-dlq-${randomUUID().slice(0, 8)}`
  const registry = new Registry()
  before(async () => {
    h = await createOrderHarness('dlq')
    const metrics = createWorkerMetrics({
      registry,
      kafka: h.kafka,
      groupId: workerGroup,
      topic: h.topics.names.ordersRequested,
      dlqDepth: () => h.dlq.depth(),
    })
    await h.startWorker(workerGroup, { wrap: metrics.track })
  })
  after(() => h?.close())

  const list = async (all = false) => {
    const res = await h.as('admin', { url: `/admin/dlq${all ? '?all=true' : ''}` })
    assert.equal(res.statusCode, 200, res.body)
    return res.json() as { depth: number; entries: Entry[] }
  }
  const drained = () =>
    h.eventually(
      async () => [...(await h.kafka.consumerLag(workerGroup, h.topics.names.ordersRequested)).values()].every((n) => n === 0),
      'the worker to drain orders.requested',
    )
  const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? []

  // A cause an operator can fix: the orders table refuses this SKU until the constraint is dropped.
  const block = (sku: string) => h.db.query(`ALTER TABLE orders.orders ADD CONSTRAINT "block_${sku}" CHECK (sku <> '${sku}')`)
  const unblock = (sku: string) => h.db.query(`ALTER TABLE orders.orders DROP CONSTRAINT "block_${sku}"`)

  it('an order that cannot be persisted lands in the DLQ; after the cause is fixed, replay persists it exactly once, and replaying again changes nothing', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 5 })
    await block(sku)
    const placed = await h.placeOrder('unlucky-buyer', { sku, qty: 2 })
    assert.equal(placed.statusCode, 202)
    const orderId = placed.json().orderId as string

    let entry: Entry | undefined
    await h.eventually(async () => (entry = (await list()).entries.find((e) => e.key === orderId)) !== undefined, 'the order in the DLQ')
    assert.equal(entry!.origin.topic, h.topics.names.ordersRequested)
    assert.match(entry!.errorMessage, /block_/)
    assert.ok(entry!.attempts >= 1)
    const shown = await h.as('admin', { url: `/admin/dlq/${entry!.partition}/${entry!.offset}` })
    assert.equal(shown.statusCode, 200)
    assert.equal(shown.json().key, orderId)
    assert.deepEqual(await h.orderRows(saleId), [], 'nothing persisted')
    assert.equal((await list()).depth, 1)
    assert.deepEqual(
      (await metric('order_dlq_depth_messages')).map((v) => v.value),
      [1],
      'the DLQ depth metric shows it',
    )

    await unblock(sku)
    const replay = await h.as('admin', { method: 'POST', url: '/admin/dlq/replay', payload: { partition: entry!.partition, offset: entry!.offset } })
    assert.equal(replay.statusCode, 200, replay.body)
    assert.deepEqual(replay.json(), { replayed: [entry!.id] })
    await h.eventually(async () => (await h.orderRows(saleId)).length === 1, 'the replayed order persisted')
    assert.deepEqual(
      (await h.orderRows(saleId)).map((r) => [r.id, r.status, r.qty]),
      [[orderId, 'confirmed', 2]],
    )
    assert.deepEqual(await h.ledger(saleId), { total: 5, sold: 2 })
    assert.equal((await h.reservation(orderId))?.state, 'committed')
    assert.ok(!(await list()).entries.some((e) => e.id === entry!.id), 'a replayed entry is no longer listed')
    assert.equal((await list(true)).entries.find((e) => e.id === entry!.id)?.handled?.action, 'replayed')
    assert.deepEqual(
      (await metric('order_dlq_depth_messages')).map((v) => v.value),
      [0],
    )

    // Again: the same order reaches the worker a second time and changes nothing.
    assert.equal(
      (await h.as('admin', { method: 'POST', url: '/admin/dlq/replay', payload: { partition: entry!.partition, offset: entry!.offset } })).statusCode,
      200,
    )
    await drained()
    assert.equal((await h.orderRows(saleId)).length, 1)
    assert.deepEqual(await h.ledger(saleId), { total: 5, sold: 2 }, 'one decrement')
    assert.equal(await h.gateAvailable(saleId), 3)

    const lag = await metric('order_worker_consumer_lag_messages')
    assert.equal(lag.length, 12, 'lag per partition of orders.requested')
    assert.ok(lag.every((v) => v.value === 0))
    assert.ok((await metric('order_worker_messages_total')).reduce((a, v) => a + v.value, 0) >= 2, 'the first delivery and the two replays were counted')
  })

  it('the CLI lists, shows and discards: a discarded entry is recorded, no longer listed, and never persisted', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 5 })
    await block(sku)
    const orderId = (await h.placeOrder('discarded-buyer', { sku, qty: 1 })).json().orderId as string
    let entry: Entry | undefined
    await h.eventually(async () => (entry = (await list()).entries.find((e) => e.key === orderId)) !== undefined, 'the order in the DLQ')

    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', CLI, ...args], {
        env: { ...process.env, ...h.env },
        encoding: 'utf8',
        timeout: 60_000,
      })
      return { code: r.status, out: r.stdout, err: r.stderr }
    }
    const listed = cli('list')
    assert.equal(listed.code, 0, listed.err)
    assert.ok((JSON.parse(listed.out) as { entries: Entry[] }).entries.some((e) => e.id === entry!.id))
    const shown = cli('show', entry!.id)
    assert.equal(shown.code, 0, shown.err)
    assert.equal((JSON.parse(shown.out) as Entry).key, orderId)
    assert.equal(cli('show', '99:0').code, 3, 'no such entry')
    assert.equal(cli('replay').code, 2, 'usage')

    const discarded = cli('discard', entry!.id)
    assert.equal(discarded.code, 0, discarded.err)
    assert.deepEqual(JSON.parse(discarded.out), { discarded: [entry!.id] })
    assert.ok(!(await list()).entries.some((e) => e.id === entry!.id))
    const { rows } = await h.db.query('SELECT action, actor FROM orders.dlq_handled WHERE topic = $1 AND partition = $2 AND "offset" = $3', [
      h.topics.names.ordersDlq,
      entry!.partition,
      entry!.offset,
    ])
    assert.equal(rows[0]?.action, 'discarded')
    assert.match(String(rows[0]?.actor), /^cli:/)
    assert.equal((await h.reservation(orderId))?.state, 'released', "the discarded order's reservation is released")
    assert.equal(await h.gateAvailable(saleId), 5, 'its unit is back at the gate')
    // --all acts on unhandled entries only: the discarded one is not replayed.
    await unblock(sku)
    assert.deepEqual((await h.as('admin', { method: 'POST', url: '/admin/dlq/replay', payload: { all: true } })).json(), { replayed: [] })
    await drained()
    assert.deepEqual(await h.orderRows(saleId), [])
    // Replaying the discarded entry by name (an explicit operator choice) cannot resurrect the order's stock.
    assert.equal(
      (await h.as('admin', { method: 'POST', url: '/admin/dlq/replay', payload: { partition: entry!.partition, offset: entry!.offset } })).statusCode,
      200,
    )
    await h.eventually(async () => (await h.orderRows(saleId)).length === 1, 'the replayed order recorded')
    assert.deepEqual(
      (await h.orderRows(saleId)).map((r) => [r.status, r.reason]),
      [['rejected', 'reservation_released']],
    )
    assert.deepEqual(await h.ledger(saleId), { total: 5, sold: 0 })
    assert.equal(await h.gateAvailable(saleId), 5)
  })

  it('the admin endpoints are admin only and refuse bad targets with 400', async () => {
    assert.equal((await h.app.inject({ url: '/admin/dlq' })).statusCode, 401)
    assert.equal((await h.as('buyer', { url: '/admin/dlq' })).statusCode, 403)
    assert.equal((await h.as('buyer', { method: 'POST', url: '/admin/dlq/replay', payload: { all: true } })).statusCode, 403)
    for (const payload of [{}, { partition: 0 }, { all: true, partition: 0, offset: '1' }, { partition: 0, offset: 'x' }, { all: false }]) {
      const res = await h.as('admin', { method: 'POST', url: '/admin/dlq/discard', payload })
      assert.equal(res.statusCode, 400, JSON.stringify(payload))
    }
    const missing = await h.as('admin', { method: 'POST', url: '/admin/dlq/replay', payload: { partition: 2, offset: '999999' } })
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.json().code, 'ORDER_ERR_DEAD_LETTER_NOT_FOUND')
  })
})

describe('worker metrics: oldest unprocessed message', () => {
  it('reports the age of the oldest message of a batch in flight, and 0 once it is done', async () => {
    const registry = new Registry()
    let now = 1_000_000
    const metrics = createWorkerMetrics({ registry, kafka: {} as never, groupId: 'g', topic: 't', dlqDepth: async () => 0, now: () => now })
    let finish!: () => void
    const handled = metrics.track(() => new Promise<void>((r) => (finish = r)))({
      topic: 't',
      partition: 0,
      highWatermark: '2',
      messages: [0, 1].map((i) => ({
        topic: 't',
        partition: 0,
        offset: String(i),
        key: null,
        value: Buffer.from(''),
        headers: {},
        timestamp: now - 10_000 + i * 1000,
      })),
    })
    now += 5_000
    const age = async () => (await registry.getSingleMetric('order_worker_oldest_unprocessed_age_seconds')!.get()).values[0]?.value
    assert.equal(await age(), 15)
    finish()
    await handled
    assert.equal(await age(), 0)
  })
})
