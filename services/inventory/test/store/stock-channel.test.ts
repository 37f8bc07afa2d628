/**
 * The stock channel: the gate's scripts publish {sku, saleId, available} on `<key prefix>inv:stock` on every
 * change of a sale's availability, so the gateway can answer sold out at the edge, reopen when units come
 * back (ADR 0027), and tell how many queued buyers can still need the order service (ADR 0026). Real Redis, a real subscriber, the real scripts through the routes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { startHarness, uid, type Harness } from '../helpers.ts'

interface StockMessage {
  sku: string
  saleId: string
  available: number
}

let h: Harness
let subscriber: Redis
const messages: StockMessage[] = []
before(async () => {
  h = await startHarness('stock_channel')
  subscriber = h.redis.duplicate()
  subscriber.on('message', (_channel: string, payload: string) => messages.push(JSON.parse(payload) as StockMessage))
  await subscriber.subscribe(`${h.prefix}inv:stock`)
})
after(async () => {
  subscriber.disconnect()
  await h.close()
})

/** The messages of one sale, once `count` of them arrived (pub/sub is asynchronous). */
async function messagesOf(saleId: string, count: number): Promise<StockMessage[]> {
  for (let i = 0; i < 200; i++) {
    const seen = messages.filter((m) => m.saleId === saleId)
    if (seen.length >= count) return seen
    await sleep(10)
  }
  return messages.filter((m) => m.saleId === saleId)
}

describe('stock channel: the gate announces sold out and units back', () => {
  it('a new sale states its stock; each reserve announces the level, the last one 0; refusals announce nothing; a release announces units back', async () => {
    const sku = `SKU-${uid('chan')}`
    const saleId = await h.createSale({ sku, totalUnits: 2, perUserLimit: 1 })
    assert.deepEqual(await messagesOf(saleId, 1), [{ sku, saleId, available: 2 }], 'creation states the stock')

    const first = uid('o')
    assert.equal((await h.reserve('b1', { saleId, orderId: first, qty: 1 })).statusCode, 201)
    assert.deepEqual((await messagesOf(saleId, 2)).at(-1), { sku, saleId, available: 1 }, 'a reserve that leaves units announces the level')

    assert.equal((await h.reserve('b2', { saleId, orderId: uid('o'), qty: 1 })).statusCode, 201)
    assert.deepEqual((await messagesOf(saleId, 3)).at(-1), { sku, saleId, available: 0 }, 'the last unit: sold out')

    for (const buyer of ['b3', 'b4', 'b5']) assert.equal((await h.reserve(buyer, { saleId, orderId: uid('o'), qty: 1 })).statusCode, 409)
    await sleep(50)
    assert.equal((await messagesOf(saleId, 3)).length, 3, 'refusals publish nothing')

    const token = await h.buyerToken('b1')
    const released = await h.app.inject({ method: 'DELETE', url: `/reservations/${first}`, headers: { authorization: `Bearer ${token}` } })
    assert.equal(released.statusCode, 200, released.body)
    assert.deepEqual((await messagesOf(saleId, 4)).at(-1), { sku, saleId, available: 1 }, 'a unit back: open again')
  })
})
