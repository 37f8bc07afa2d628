import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startHarness, uid, type Harness } from '../helpers.ts'

// Counts every command the app's own Redis client sends that reads or writes the gate (EVALSHA of the gate
// included): ioredis routes each command through the instance's sendCommand. Other suites on the same server
// do not affect it. WAIT (a reservation confirmed by the replica, store/gate-store.ts) is left out: one is
// shared by the reservations of a moment, so its count depends on timing, not on the attempts admitted. Nor
// are the fault flags' once-a-second reads (`faults:inventory`, @flashsale/faults): they do not touch the
// gate, and one fell inside the 20 answers of a run now and then.
let commands = 0
function countingClient(prefix: string, url: string): Redis {
  const redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 2 })
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    const command = args[0] as { name?: string; args?: unknown[] } | undefined
    const name = command?.name?.toLowerCase()
    const key = String(command?.args?.[0] ?? '')
    if (name !== 'wait' && !key.includes('faults:')) commands++
    return send(...args)
  }) as Redis['sendCommand']
  return redis
}

let h: Harness
before(async () => {
  h = await startHarness('hotsale', {
    env: { HOT_SALE_RATE_PER_SECOND: '1', HOT_SALE_BURST: '3', SOLD_OUT_CACHE_MS: '1000' },
    redis: countingClient,
  })
})
after(() => h.close())

async function metric(name: string, saleId: string): Promise<number> {
  const m = await h.metrics.registry.getSingleMetric(name)?.get()
  return m?.values.find((v) => v.labels['sale_id'] === saleId)?.value ?? 0
}

describe('hot-sale limiter in front of the gate', () => {
  it('above the per-sale rate, attempts get 429 INVENTORY_ERR_HOT_SALE_THROTTLED with Retry-After, without reaching Redis', async () => {
    const saleId = await h.createSale({ totalUnits: 100, perUserLimit: 1 })
    // The cost of one admitted reserve, measured on another sale (its own bucket).
    const probe = await h.createSale({ totalUnits: 100, perUserLimit: 1 })
    let before = commands
    assert.equal((await h.reserve('probe', { saleId: probe, orderId: uid('probe'), qty: 1 })).statusCode, 201)
    const perReserve = commands - before

    before = commands
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => h.reserve(`hot-${i}`, { saleId, orderId: uid('hot'), qty: 1 })))
    const delta = commands - before
    const admitted = answers.filter((r) => r.statusCode === 201)
    const throttled = answers.filter((r) => r.statusCode === 429)
    assert.equal(admitted.length, 3, 'the burst')
    assert.equal(throttled.length, 7)
    for (const r of throttled) {
      assert.equal(r.json().code, 'INVENTORY_ERR_HOT_SALE_THROTTLED')
      assert.ok(Number(r.headers['retry-after']) >= 1)
    }
    assert.equal(delta, 3 * perReserve, 'only the admitted attempts touched Redis')
    assert.equal(await metric('inventory_hot_sale_throttled_total', saleId), 7)

    h.clock.advance(1_000)
    try {
      assert.equal((await h.reserve('hot-later', { saleId, orderId: uid('hot'), qty: 1 })).statusCode, 201, 'a token is back after 1 s')
    } finally {
      h.clock.advance(-1_000)
    }
  })
})

describe('sold-out short-circuit', () => {
  it('once the gate said sold out, attempts are answered 409 from memory with zero Redis commands, until the TTL passes', async () => {
    const saleId = await h.createSale({ totalUnits: 1, perUserLimit: 1 })
    assert.equal((await h.reserve('winner', { saleId, orderId: uid('w'), qty: 1 })).statusCode, 201)
    try {
      const first = await h.reserve('loser-0', { saleId, orderId: uid('l'), qty: 1 })
      assert.equal(first.json().code, 'INVENTORY_ERR_SOLD_OUT')
      const before = commands
      const rest = []
      for (let i = 1; i <= 20; i++) rest.push(await h.reserve(`loser-${i}`, { saleId, orderId: uid('l'), qty: 1 }))
      assert.ok(rest.every((r) => r.statusCode === 409 && r.json().code === 'INVENTORY_ERR_SOLD_OUT'))
      assert.equal(commands - before, 0, 'no Redis command for answers from memory')
      assert.equal(await metric('inventory_sold_out_short_circuit_total', saleId), 20)

      h.clock.advance(1_500)
      const after = commands
      assert.equal((await h.reserve('loser-late', { saleId, orderId: uid('l'), qty: 1 })).json().code, 'INVENTORY_ERR_SOLD_OUT')
      assert.ok(commands - after > 0, 'after the TTL the gate is asked again')
    } finally {
      h.clock.advance(-1_500)
    }
  })

  it('a release through this instance ends the short-circuit at once: the returned unit is sold again', async () => {
    // Three attempts in all: inside the limiter's burst, and well inside the short-circuit's 1 s.
    const saleId = await h.createSale({ totalUnits: 1, perUserLimit: 1 })
    const orderId = uid('first')
    await h.reserve('first', { saleId, orderId, qty: 1 })
    assert.equal((await h.reserve('second', { saleId, orderId: uid('s'), qty: 1 })).json().code, 'INVENTORY_ERR_SOLD_OUT')
    const released = await h.app.inject({
      method: 'DELETE',
      url: `/reservations/${orderId}`,
      headers: { authorization: `Bearer ${await h.buyerToken('first')}` },
    })
    assert.equal(released.json().released, 1)
    assert.equal((await h.reserve('second', { saleId, orderId: uid('s'), qty: 1 })).statusCode, 201)
  })
})
