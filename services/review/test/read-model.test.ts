/**
 * The verified-buyer read model on the real broker: the projector runs in-process on a topic of this
 * suite's own (a copy of orders.events), fed with OrderStatusChangedV1 events produced here.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createKafka, eventHeaders, TOPICS, type OrderStatusChanged, type Producer } from '@flashsale/kafka'
import { createTestTopics, type TestTopics } from '@flashsale/testkit'
import type { Purchase } from '../src/domain/review.ts'
import { startOrderEventsProjector, type Projector } from '../src/order-events-projector.ts'
import { createPurchaseStore } from '../src/store/purchase-store.ts'
import { assertProblem, metricValue, startHarness, uid, waitFor, type Harness } from './helpers.ts'

describe('verified buyers from orders.events', () => {
  let h: Harness
  let topics: TestTopics<'events'>
  let producer: Producer
  let projector: Projector
  const seen = async () =>
    (
      await Promise.all(['applied', 'unchanged', 'invalid'].map((outcome) => metricValue(h.metrics.registry, 'review_projector_events_total', { outcome })))
    ).reduce((a, b) => a + b, 0)

  before(async () => {
    h = await startHarness('read_model')
    topics = await createTestTopics('review', { events: TOPICS.ordersEvents })
    const kafka = createKafka({ brokers: topics.brokers, clientId: 'review-test' })
    producer = await kafka.createProducer()
    projector = await startOrderEventsProjector({
      kafka,
      purchases: createPurchaseStore(h.db),
      topic: topics.names.events,
      groupId: `review-test-${uid('g')}`,
      registry: h.metrics.registry,
      log: { info: () => {}, warn: () => {} },
    })
  })
  after(async () => {
    await projector?.close()
    await producer?.close()
    await topics?.cleanup()
    await h?.close()
  })

  // The contract's shape (packages/kafka/src/contracts.ts), spelled out: its inferred status type is too loose to build from.
  type StatusEvent = Omit<OrderStatusChanged, 'status'> & { status: Purchase['status'] }
  const event = (over: { orderId?: string; userId?: string; sku?: string; status?: Purchase['status'] }): StatusEvent => ({
    type: 'order.status-changed',
    v: 1,
    orderId: uid('order'),
    userId: 'buyer',
    saleId: 'sale-1',
    sku: 'SKU-1',
    qty: 1,
    status: 'confirmed',
    occurredAt: new Date().toISOString(),
    ...over,
  })
  const send = (events: readonly (StatusEvent | string)[]) =>
    producer.send(
      topics.names.events,
      events.map((e) => (typeof e === 'string' ? { key: 'bad', value: e } : { key: e.orderId, value: JSON.stringify(e), headers: eventHeaders(e) })),
    )

  it('the same message delivered twice makes one verified purchase, and its buyer may review', async () => {
    const sku = uid('SKU')
    const productId = uid('prod')
    h.catalogProducts.set(productId, sku)
    const confirmed = event({ userId: 'hana', sku })
    const start = await seen()
    await send([confirmed])
    await send([confirmed]) // a redelivery: the same order id, the same status
    await waitFor('the projector to see both', async () => (await seen()) >= start + 2)
    const { rows } = await h.db.query('SELECT order_id, user_id, sku, status FROM review.verified_purchases WHERE user_id = $1', ['hana'])
    assert.deepEqual(rows, [{ order_id: confirmed.orderId, user_id: 'hana', sku, status: 'confirmed' }])
    const res = await h.post(productId, 'hana', { rating: 5, body: 'Bought it in the flash sale, love it.' })
    assert.equal(res.statusCode, 201, res.body)
  })

  it('paid upgrades, cancelled revokes for good (a late confirmed does not bring it back); bad payloads are skipped', async () => {
    const sku = uid('SKU')
    const productId = uid('prod')
    h.catalogProducts.set(productId, sku)
    const orderId = uid('order')
    const start = await seen()
    await send([
      event({ orderId, userId: 'ivan', sku }),
      event({ orderId, userId: 'ivan', sku, status: 'paid' }),
      'not json',
      JSON.stringify({ type: 'order.status-changed', v: 1 }),
    ])
    await waitFor('four messages', async () => (await seen()) >= start + 4)
    assert.equal((await h.db.query('SELECT status FROM review.verified_purchases WHERE order_id = $1', [orderId])).rows[0]?.status, 'paid')
    assert.ok((await metricValue(h.metrics.registry, 'review_projector_events_total', { outcome: 'invalid' })) >= 2)

    await send([event({ orderId, userId: 'ivan', sku, status: 'cancelled' }), event({ orderId, userId: 'ivan', sku, status: 'confirmed' })])
    await waitFor('two more', async () => (await seen()) >= start + 6)
    assert.equal((await h.db.query('SELECT status FROM review.verified_purchases WHERE order_id = $1', [orderId])).rows[0]?.status, 'cancelled')
    assertProblem(await h.post(productId, 'ivan', { rating: 1, body: 'Never arrived, order cancelled.' }), 403, 'REVIEW_ERR_NOT_VERIFIED_BUYER')
  })
})
