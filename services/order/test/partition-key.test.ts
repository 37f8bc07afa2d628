/** docs/adr/0017-orders-requested-partition-key.md: orders.requested is keyed by order id, not SKU. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createOrderHarness, type OrderHarness } from './helpers.ts'

describe('the partition key of orders.requested', () => {
  let h: OrderHarness
  before(async () => {
    h = await createOrderHarness('partition-key')
  })
  after(() => h?.close())

  it('orders of one hot SKU are keyed by order id and spread over several partitions', async () => {
    const { sku } = await h.createSale({ totalUnits: 100, perUserLimit: 1 })
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => h.placeOrder(`hot-${i}`, { sku, qty: 1 })))
    const ids = new Set(answers.map((a) => a.json().orderId as string))
    assert.equal(ids.size, 24)

    const messages = (await h.readTopic(h.topics.names.ordersRequested)).filter((m) => JSON.parse(m.value.toString()).sku === sku)
    assert.equal(messages.length, 24)
    for (const m of messages) assert.equal(m.key, JSON.parse(m.value.toString()).orderId, 'key = order id')
    const partitions = new Set(messages.map((m) => m.partition))
    // With a key per SKU all 24 would share one partition; with random order ids over 12 partitions, the
    // chance that they all do is 12^-23.
    assert.ok(partitions.size > 1, `one SKU on ${partitions.size} partition(s)`)
  })
})
