/**
 * The waiting rooms' Redis scripts on real Redis: tickets are numbered and claimed atomically under
 * concurrency (one per user), the watermark moves by the credit a rate earns and not while paused, places
 * given up cost no admission, a lottery draws a random order at its opening, and instances add up.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { createRoomStore, type RoomSettings, type RoomStore, type TicketResult } from '../../src/waiting-room/store.ts'

const T0 = 1_800_000_000_000
let n = 0

describe('waiting-room store (real Redis)', () => {
  let r: TestRedis
  let store: RoomStore
  before(async () => {
    r = await createTestRedis('wr_store')
    store = createRoomStore(r.redis)
  })
  after(() => r.cleanup())

  const open = async (over: Partial<RoomSettings> = {}) => {
    const saleId = `sale-${++n}`
    const s: RoomSettings = {
      saleId,
      sku: `SKU-${n}`,
      mode: 'fifo',
      opensAt: T0,
      passTtlMs: 60_000,
      ratePerSecond: 0,
      expiresAt: Date.now() + 3_600_000,
      ...over,
    }
    assert.equal(await store.enable(s), 'created')
    return saleId
  }
  const ticketOf = (t: TicketResult) => {
    assert.ok(t.kind === 'new' || t.kind === 'existing', `a ticket, got ${t.kind}`)
    return t
  }
  const advance = (saleId: string, now: number, rate: number, over: { instanceId?: string; paused?: boolean } = {}) =>
    store.advance(saleId, { instanceId: over.instanceId ?? 'gw-a', now, ratePerSecond: rate, burstSeconds: 1_000, paused: over.paused ?? false })

  test('500 buyers joining at once get tickets 1..500, each once, in one line with no gaps', async () => {
    const saleId = await open()
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => store.ticket(saleId, `u${i}`, 'join', T0)))
    const tickets = results.map((t) => ticketOf(t).ticket).sort((a, b) => a - b)
    assert.deepEqual(
      tickets,
      Array.from({ length: 500 }, (_, i) => i + 1),
    )
    const places = results.map((t) => ticketOf(t).place).sort((a, b) => a - b)
    assert.deepEqual(places, tickets, 'FIFO: the place is the arrival number')
    assert.ok(results.every((t) => t.kind === 'new'))
  })

  test('one user joining 50 times at once holds one ticket', async () => {
    const saleId = await open()
    await store.ticket(saleId, 'someone-else', 'join', T0)
    const results = await Promise.all(Array.from({ length: 50 }, () => store.ticket(saleId, 'eager', 'join', T0)))
    assert.equal(new Set(results.map((t) => ticketOf(t).ticket)).size, 1)
    assert.equal(results.filter((t) => t.kind === 'new').length, 1)
    assert.equal((await store.get(saleId))?.tickets, 2)
  })

  test('no room, no ticket', async () => {
    assert.deepEqual(await store.ticket('no-such-sale', 'u', 'join', T0), { kind: 'none' })
    const saleId = await open()
    assert.deepEqual(await store.ticket(saleId, 'never-joined', 'poll', T0), { kind: 'no_ticket' })
  })

  test('the watermark moves by the credit the rate earns, in order, and not before the opening', async () => {
    const saleId = await open({ opensAt: T0 + 1_000 })
    for (let i = 1; i <= 10; i++) await store.ticket(saleId, `b${i}`, 'join', T0)
    assert.equal((await advance(saleId, T0, 100))!.served, 0)
    assert.equal((await advance(saleId, T0 + 500, 100))!.served, 0, 'not open yet: no credit')
    assert.equal((await advance(saleId, T0 + 1_000, 4))!.served, 0)
    const after = await advance(saleId, T0 + 1_500, 4) // 0.5 s at 4/s: 2 places
    assert.equal(after!.served, 2)
    assert.equal(after!.admittedNow, 2)
    assert.equal(after!.waiting, 8)
    const first = ticketOf(await store.ticket(saleId, 'b1', 'poll', T0 + 1_600))
    assert.equal(first.newlyAdmitted, true)
    assert.equal(first.admittedAt, T0 + 1_600)
    assert.equal(ticketOf(await store.ticket(saleId, 'b1', 'poll', T0 + 1_700)).newlyAdmitted, false, 'told once')
    const third = ticketOf(await store.ticket(saleId, 'b3', 'poll', T0 + 1_600))
    assert.equal(third.admittedAt, 0)
    assert.equal(third.ahead, 0, 'next in line')
    assert.equal(ticketOf(await store.ticket(saleId, 'b10', 'poll', T0 + 1_600)).ahead, 7)
  })

  test('paused: no credit is earned, and none is saved up for later', async () => {
    const saleId = await open()
    for (let i = 1; i <= 5; i++) await store.ticket(saleId, `p${i}`, 'join', T0)
    await advance(saleId, T0, 10)
    assert.equal((await advance(saleId, T0 + 10_000, 10, { paused: true }))!.served, 0)
    assert.equal((await advance(saleId, T0 + 10_000, 10))!.served, 0, 'the paused time earned nothing')
    assert.equal((await advance(saleId, T0 + 10_200, 10))!.served, 2)
  })

  test('a place given up costs no admission: the ones behind it move up', async () => {
    const saleId = await open()
    for (let i = 1; i <= 6; i++) await store.ticket(saleId, `g${i}`, 'join', T0)
    assert.equal(await store.leave(saleId, 'g2', T0), 'left')
    assert.equal(await store.leave(saleId, 'g3', T0), 'left')
    assert.equal(ticketOf(await store.ticket(saleId, 'g4', 'poll', T0)).ahead, 1, 'only g1 is still in front')
    await advance(saleId, T0, 10)
    const r = await advance(saleId, T0 + 200, 10) // 2 credits: g1 and g4 (g2, g3 skipped for free)
    assert.equal(r!.served, 4)
    assert.equal(r!.admittedNow, 2)
    assert.equal(ticketOf(await store.ticket(saleId, 'g4', 'poll', T0 + 300)).admittedAt, T0 + 300)
    assert.equal(await store.leave(saleId, 'g2', T0), 'no_ticket')
  })

  test('an admitted place cannot be left while its pass is good; once the pass ran out it is released', async () => {
    const saleId = await open({ passTtlMs: 1_000 })
    await store.ticket(saleId, 'a1', 'join', T0)
    await advance(saleId, T0, 10)
    await advance(saleId, T0 + 100, 10)
    ticketOf(await store.ticket(saleId, 'a1', 'poll', T0 + 100)) // told at T0+100
    assert.equal(await store.leave(saleId, 'a1', T0 + 500), 'admitted')
    assert.equal(ticketOf(await store.ticket(saleId, 'a1', 'join', T0 + 500)).ticket, 1, 'still the same ticket')
    assert.equal(await store.leave(saleId, 'a1', T0 + 1_100), 'expired')
    const again = ticketOf(await store.ticket(saleId, 'a1', 'join', T0 + 1_200))
    assert.equal(again.kind, 'new')
    assert.equal(again.ticket, 2, 'a new ticket, at the back')
  })

  test('a lottery draws a random order among those who joined before the opening; later arrivals queue behind', async () => {
    const saleId = await open({ mode: 'lottery', opensAt: T0 + 1_000 })
    const early = 200
    for (let i = 0; i < early; i++) {
      const t = ticketOf(await store.ticket(saleId, `l${i}`, 'join', T0, Math.random()))
      assert.equal(t.place, 0, 'no place before the draw')
    }
    assert.equal((await advance(saleId, T0 + 500, 100))!.drew, 0)
    const drawn = await advance(saleId, T0 + 1_000, 100)
    assert.equal(drawn!.drew, early)
    const late = ticketOf(await store.ticket(saleId, 'late', 'join', T0 + 1_100, 0))
    assert.equal(late.place, early + 1, 'after every early entrant, whatever its score')
    const places: number[] = []
    for (let i = 0; i < early; i++) places.push(ticketOf(await store.ticket(saleId, `l${i}`, 'poll', T0 + 1_100)).place)
    assert.deepEqual(
      [...places].sort((a, b) => a - b),
      Array.from({ length: early }, (_, i) => i + 1),
      'every early entrant has one place',
    )
    const inOrder = places.filter((p, i) => p === i + 1).length
    // A uniform random order leaves ~1 of 200 in its arrival place; arrival order would leave all 200.
    assert.ok(inOrder < early / 4, `${inOrder} of ${early} kept their arrival place: not a draw`)
    assert.equal(
      await store.enable({ saleId, sku: 'x', mode: 'fifo', opensAt: T0, passTtlMs: 1, ratePerSecond: 0, expiresAt: Date.now() + 60_000 }),
      'conflict',
    )
  })

  test('each instance adds the rate it measures; an admin-fixed rate is the fleet rate', async () => {
    const saleId = await open()
    for (let i = 1; i <= 100; i++) await store.ticket(saleId, `f${i}`, 'join', T0)
    await advance(saleId, T0, 10, { instanceId: 'gw-a' })
    await advance(saleId, T0, 30, { instanceId: 'gw-b' })
    assert.equal((await advance(saleId, T0 + 1_000, 10, { instanceId: 'gw-a' }))!.fleetRate, 40)
    const both = await advance(saleId, T0 + 1_000, 30, { instanceId: 'gw-b' })
    assert.equal(both!.served, 40, 'one second at 10/s and at 30/s')

    const fixed = await open({ ratePerSecond: 5 })
    for (let i = 1; i <= 100; i++) await store.ticket(fixed, `x${i}`, 'join', T0)
    await advance(fixed, T0, 1_000, { instanceId: 'gw-a' })
    await advance(fixed, T0, 1_000, { instanceId: 'gw-b' })
    await advance(fixed, T0 + 1_000, 1_000, { instanceId: 'gw-a' })
    const r = await advance(fixed, T0 + 1_000, 1_000, { instanceId: 'gw-b' })
    assert.equal(r!.served, 5, 'the fixed rate is shared by the fleet, not given to each instance')
    assert.equal(r!.fleetRate, 5)
  })

  test('disable forgets the room and every place in it', async () => {
    const saleId = await open()
    await store.ticket(saleId, 'd1', 'join', T0)
    assert.ok((await store.list()).some((s) => s.saleId === saleId))
    assert.equal(await store.disable(saleId), true)
    assert.equal(await store.get(saleId), undefined)
    assert.ok(!(await store.list()).some((s) => s.saleId === saleId))
    assert.deepEqual(await store.ticket(saleId, 'd1', 'poll', T0), { kind: 'none' })
  })
})
