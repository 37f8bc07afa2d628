/**
 * The invariants of the order path (those `make verify` checks, ADR 0021) on the real stack: no oversell,
 * no lost order, no duplicate, the per-user limit under concurrency, and never a 202 for an order that is
 * not queued.
 * A `.serial` suite: the race pushes 2,000 concurrent requests through one small machine, and beside the
 * other suites of this folder the CPU starvation made the stock gate answer 503 (fail closed) — a test of
 * the machine, not of the order path. Alone, it tests the order path.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { parseDeadLetter, type IncomingMessage } from '@flashsale/kafka'
import { Writable } from 'node:stream'
import { createTokenVerifier } from '@flashsale/auth'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { buildApp } from '../src/app.ts'
import { createInventoryClient } from '../src/clients/inventory-client.ts'
import { createOrderHarness, freePort, startProcess, type OrderHarness } from './helpers.ts'

async function gateAvailable(h: OrderHarness, saleId: string): Promise<number> {
  const res = await fetch(`${h.inventoryUrl}/sales/${saleId}`)
  return ((await res.json()) as { approximateAvailable: number }).approximateAvailable
}

describe('invariants of the order path', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('invariants')
  })
  after(() => h?.close())

  it('200 buyers x 10 concurrent attempts on 100 units, limit 1: exactly 100 confirmed orders from 100 buyers, stock never negative, Redis and Postgres agree', async () => {
    const stopWorker = await h.startWorker()
    try {
      const { saleId, sku } = await h.createSale({ totalUnits: 100, perUserLimit: 1 })
      const attempts = Array.from({ length: 200 }, (_, u) => Array.from({ length: 10 }, () => ({ user: `racer-${u}`, key: randomUUID() }))).flat()
      const answers = await Promise.all(attempts.map(({ user, key }) => h.placeOrder(user, { sku, qty: 1 }, key)))
      const byStatus = new Map<number, number>()
      for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1)
      assert.equal(byStatus.get(202), 100, `answers by status: ${JSON.stringify([...byStatus])}`)
      assert.ok(
        answers.every((a) => a.statusCode === 202 || a.statusCode === 409),
        `only 202 or 409 (sold out, limit); others: ${JSON.stringify(
          answers
            .filter((a) => a.statusCode !== 202 && a.statusCode !== 409)
            .slice(0, 3)
            .map((a) => a.body),
        )}`,
      )

      await h.eventually(async () => (await h.orderRows(saleId)).length === 100, '100 orders persisted', 60_000)
      const rows = await h.orderRows(saleId)
      assert.equal(rows.filter((r) => r.status === 'confirmed').length, 100)
      assert.equal(new Set(rows.map((r) => r.user_id)).size, 100, '100 distinct buyers')
      assert.deepEqual(await h.ledger(saleId), { total: 100, sold: 100 })
      assert.equal(await gateAvailable(h, saleId), 0, 'the gate agrees: nothing left')
      const accepted = new Set(answers.filter((a) => a.statusCode === 202).map((a) => a.json().orderId as string))
      assert.deepEqual(new Set(rows.map((r) => r.id)), accepted, 'every 202 is a persisted order, and nothing else is')
    } finally {
      await stopWorker()
    }
  })

  it('when the broker cannot take the order, answers 503 with Retry-After, returns the stock, and no order appears later', async () => {
    const stopWorker = await h.startWorker()
    const { saleId, sku } = await h.createSale({ totalUnits: 3, perUserLimit: 3 })
    // The same app, but enqueueing to a topic the broker does not have (auto-creation is off): every
    // send fails at the broker until the latency budget runs out.
    const metrics = createProcessMetrics({ service: 'order-test-broken' })
    const inventory = createInventoryClient({ urls: [h.inventoryUrl], timeoutMs: 5_000 })
    // Its own producer: sends are serialized per producer, and the doomed one keeps retrying after we stop waiting.
    const producer = await h.kafka.createProducer()
    const broken = await buildApp(
      { ...h.config, KAFKA_SEND_TIMEOUT_MS: 1_000 },
      {
        logger: createLogger({ service: 't', destination: new Writable({ write: (_c, _e, d) => d() }) }).logger,
        metrics,
        verifier: await createTokenVerifier(JSON.parse(h.env['AUTH_JWT_PUBLIC_JWK'] ?? '{}')),
        redis: h.redis,
        db: h.db,
        producer,
        inventory,
        ordersRequestedTopic: `orders.requested.missing-${randomUUID()}`,
      },
    )
    try {
      const res = await broken.inject({
        method: 'POST',
        url: '/orders',
        headers: { authorization: `Bearer ${await h.buyerToken('unlucky')}`, 'idempotency-key': randomUUID() },
        payload: { sku, qty: 2 },
      })
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.json().code, 'ORDER_ERR_QUEUE_UNAVAILABLE')
      assert.ok(Number(res.headers['retry-after']) >= 1)
      assert.equal(await gateAvailable(h, saleId), 3, 'the reservation was released')
      // The stock is really back: another buyer can take all of it through the healthy app.
      assert.equal((await h.placeOrder('lucky', { sku, qty: 3 })).statusCode, 202)
      await h.eventually(async () => (await h.orderRows(saleId)).length === 1, 'the healthy order persisted')
      await new Promise((r) => setTimeout(r, 1_000))
      const rows = await h.orderRows(saleId)
      assert.deepEqual(
        rows.map((r) => r.user_id),
        ['lucky'],
        'the 503 order never appeared',
      )
      assert.deepEqual(await h.ledger(saleId), { total: 3, sold: 3 })
    } finally {
      await broken.close()
      await inventory.close()
      await producer.close().catch(() => {})
      metrics.stop()
      await stopWorker()
    }
  })

  it('a poison message goes to the DLQ with its error, attempts and origin, and the orders beside it are persisted', async () => {
    const stopWorker = await h.startWorker()
    try {
      const { saleId, sku } = await h.createSale({ totalUnits: 5 })
      await h.producer.send(h.topics.names.ordersRequested, [
        { key: 'poison', value: '{"type":"order.requested","v":1,"qty":"lots"}', headers: { 'x-origin': 'test' } },
      ])
      assert.equal((await h.placeOrder('healthy', { sku, qty: 1 })).statusCode, 202)
      await h.eventually(async () => (await h.orderRows(saleId)).length === 1, 'the healthy order persisted')

      const dead: IncomingMessage[] = []
      const reader = await h.kafka.createConsumer({ groupId: `dlq-reader-${randomUUID()}`, topics: [h.topics.names.ordersDlq], fromBeginning: true })
      await reader.run(async (batch) => void dead.push(...batch.messages))
      await h.eventually(async () => dead.some((m) => m.key === 'poison'), 'the poison message in the DLQ')
      await reader.close()
      const letter = parseDeadLetter(dead.find((m) => m.key === 'poison')!)
      assert.equal(letter.errorClass, 'InvalidEventError')
      assert.match(letter.errorMessage, /qty|orderId/)
      assert.equal(letter.origin.topic, h.topics.names.ordersRequested)
      assert.equal(letter.value.toString(), '{"type":"order.requested","v":1,"qty":"lots"}', 'value unchanged')
      assert.equal(letter.originalHeaders['x-origin'], 'test')
    } finally {
      await stopWorker()
    }
  })

  it('a worker killed with SIGKILL mid-batch and restarted loses no order and duplicates none', async () => {
    const { saleId, sku } = await h.createSale({ totalUnits: 1_000, perUserLimit: 1 })
    const answers = []
    for (let i = 0; i < 600; i += 50) {
      answers.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => h.placeOrder(`killed-${i + j}`, { sku, qty: 1 })))))
    }
    const accepted = new Set(answers.filter((a) => a.statusCode === 202).map((a) => a.json().orderId as string))
    assert.equal(
      accepted.size,
      600,
      `not accepted: ${JSON.stringify(
        answers
          .filter((a) => a.statusCode !== 202)
          .slice(0, 2)
          .map((a) => a.body),
      )}`,
    )

    const groupId = `order-worker-kill-${randomUUID().slice(0, 8)}`
    const workerEnv = async () => ({ ...h.env, WORKER_GROUP_ID: groupId, WORKER_PORT: String(await freePort()), HOST: '127.0.0.1' })
    const env1 = await workerEnv()
    const first = await startProcess('services/order/src/worker.ts', env1, '/health/live', Number(env1.WORKER_PORT))
    await h.eventually(async () => (await h.orderRows(saleId)).length > 0, 'the worker to persist a first batch', 60_000)
    await first.stop('SIGKILL')
    const atKill = (await h.orderRows(saleId)).length
    assert.ok(atKill < 600, `the kill came after every order was persisted (${atKill}); nothing was tested`)

    const env2 = await workerEnv()
    const second = await startProcess('services/order/src/worker.ts', env2, '/health/live', Number(env2.WORKER_PORT))
    try {
      await h.eventually(async () => (await h.orderRows(saleId)).length === 600, 'every accepted order persisted after the restart', 90_000)
      await new Promise((r) => setTimeout(r, 1_000))
      const rows = await h.orderRows(saleId)
      assert.equal(rows.length, 600, `persisted ${atKill} before the kill`)
      assert.deepEqual(new Set(rows.map((r) => r.id)), accepted, 'exactly the accepted orders, none lost, none extra')
      assert.ok(rows.every((r) => r.status === 'confirmed'))
      assert.deepEqual(await h.ledger(saleId), { total: 1_000, sold: 600 }, 'one decrement per order, none twice')
      assert.equal(await gateAvailable(h, saleId), 400)
    } finally {
      await second.stop()
    }
  })
})
