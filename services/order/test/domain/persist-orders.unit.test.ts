/**
 * persistOrders (the worker's use case for one batch of orders.requested) over in-memory fakes of its ports:
 * a stock gate that keeps each reservation's state as the inventory does (reserved → committing → committed,
 * or released / expired), and a "database" that inserts an order id once and takes stock first come, first
 * served, as store/orders-store.ts persistBatch does. The real-server tests (test/place-order.test.ts) keep
 * the end-to-end paths; these pin the steps' order, the outcomes per claim answer, and the redeliveries.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { orderRequested } from '../fixtures/order-requested.ts'
import { GateUnavailableError } from '../../src/clients/inventory-client.ts'
import { persistOrders, type PersistOrdersDeps, type ToPersist } from '../../src/domain/persist-orders.ts'
import type { ClaimOutcome, OrderStatusView } from '../../src/domain/ports.ts'

type GateState = 'reserved' | 'committing' | 'committed' | 'confirmed' | 'released' | 'expired'

interface World {
  /** The stock gate's reservations, by order id. */
  gate: Map<string, GateState>
  /** The orders table, by order id. */
  orders: Map<string, OrderStatusView>
  /** Units left per sale in the stock ledger. */
  stock: Map<string, number>
  cache: Map<string, OrderStatusView>
  published: OrderStatusView[][]
  /** What persist was handed, call by call. */
  persisted: ToPersist[][]
  /** Every port call in order: "claim a,b", "persist a,b", "commit a", "release b", "cache a", "publish a,b". */
  calls: string[]
}

/** A hook per port: return an error to make that call fail (before it changes anything), or undefined. */
interface Faults {
  claim?: () => Error | undefined
  persist?: () => Error | undefined
  commit?: () => Error | undefined
  release?: () => Error | undefined
  cachePut?: () => Error | undefined
  publish?: () => Error | undefined
  /** Replaces the gate's answers to a claim (to return a map missing some order ids). */
  claimAnswers?: (orderIds: readonly string[]) => Map<string, ClaimOutcome>
}

function fakes(seed: { stock?: Record<string, number>; reserved?: string[] } = {}, faults: Faults = {}): { deps: PersistOrdersDeps; world: World } {
  const world: World = {
    gate: new Map((seed.reserved ?? []).map((id) => [id, 'reserved'])),
    orders: new Map(),
    stock: new Map(Object.entries(seed.stock ?? { 'sale-1': 100 })),
    cache: new Map(),
    published: [],
    persisted: [],
    calls: [],
  }
  const fail = (hook: (() => Error | undefined) | undefined) => {
    const err = hook?.()
    if (err) throw err
  }
  const deps: PersistOrdersDeps = {
    reservations: {
      async claim(orderIds) {
        world.calls.push(`claim ${orderIds.join(',')}`)
        fail(faults.claim)
        if (faults.claimAnswers) return faults.claimAnswers(orderIds)
        const answers = new Map<string, ClaimOutcome>()
        for (const id of orderIds) {
          const state = world.gate.get(id)
          if (state === undefined) answers.set(id, 'not_found')
          else if (state === 'reserved') {
            world.gate.set(id, 'committing')
            answers.set(id, 'ok')
          } else if (state === 'released' || state === 'expired') answers.set(id, state)
          else answers.set(id, 'already')
        }
        return answers
      },
      async commit(orderIds) {
        world.calls.push(`commit ${orderIds.join(',')}`)
        fail(faults.commit)
        for (const id of orderIds) if (world.gate.get(id) === 'committing') world.gate.set(id, 'committed')
      },
      async confirm(orderIds) {
        world.calls.push(`confirm ${orderIds.join(',')}`)
        for (const id of orderIds) if (world.gate.get(id) === 'committed') world.gate.set(id, 'confirmed')
      },
      async release(orderIds) {
        world.calls.push(`release ${orderIds.join(',')}`)
        fail(faults.release)
        for (const id of orderIds) {
          const state = world.gate.get(id)
          if (state === 'committing' || state === 'committed' || state === 'confirmed') world.gate.set(id, 'released')
        }
      },
    },
    // One transaction: a failure changes nothing; a known order id is a no-op; stock first come, first served.
    async persist(orders) {
      world.calls.push(`persist ${orders.map((o) => o.orderId).join(',')}`)
      world.persisted.push([...orders])
      fail(faults.persist)
      for (const o of orders) {
        if (world.orders.has(o.orderId)) continue
        const { rejectReason, idempotencyKey: _key, ...fields } = o
        const left = world.stock.get(o.saleId) ?? 0
        if (rejectReason) world.orders.set(o.orderId, { ...fields, status: 'rejected', reason: rejectReason })
        else if (left < o.qty) world.orders.set(o.orderId, { ...fields, status: 'rejected', reason: 'sold_out' })
        else {
          world.stock.set(o.saleId, left - o.qty)
          world.orders.set(o.orderId, { ...fields, status: 'confirmed' })
        }
      }
      return orders.map((o) => world.orders.get(o.orderId)).filter((v): v is OrderStatusView => v !== undefined)
    },
    statusCache: {
      async put(view) {
        world.calls.push(`cache ${view.orderId}`)
        fail(faults.cachePut)
        world.cache.set(view.orderId, view)
      },
      get: async (orderId) => world.cache.get(orderId),
    },
    async publish(orders) {
      world.calls.push(`publish ${orders.map((o) => o.orderId).join(',')}`)
      fail(faults.publish)
      world.published.push([...orders])
    },
  }
  return { deps, world }
}

const gateDown = () => new GateUnavailableError('inventory claim failed: connect ECONNREFUSED')
const statuses = (world: World) => Object.fromEntries([...world.orders].map(([id, o]) => [id, o.status]))
const gateStates = (world: World) => Object.fromEntries(world.gate)

describe('persistOrders (in-memory ports)', () => {
  it('persists a batch of new orders once each, with the event fields minus type and v, and reports them confirmed', async () => {
    const events = [orderRequested('o1'), orderRequested('o2', { qty: 3, userId: 'u-9', sku: 'SKU-2' })]
    const { deps, world } = fakes({ reserved: ['o1', 'o2'] })

    const summary = await persistOrders(deps, events)

    assert.deepEqual(summary, { confirmed: 2, rejected: 0, other: 0 })
    assert.equal(world.persisted.length, 1, 'one transaction for the batch')
    assert.deepEqual(
      world.persisted[0],
      events.map(({ type: _t, v: _v, ...order }) => order),
      'no type/v, no rejectReason',
    )
    assert.deepEqual(world.orders.get('o2'), {
      orderId: 'o2',
      userId: 'u-9',
      saleId: 'sale-1',
      sku: 'SKU-2',
      qty: 3,
      status: 'confirmed',
      reservationExpiresAt: events[1]?.reservationExpiresAt,
      requestedAt: events[1]?.requestedAt,
    })
    assert.equal(world.stock.get('sale-1'), 96)
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'committed' })
    assert.deepEqual([...world.cache.keys()].sort(), ['o1', 'o2'])
    assert.deepEqual(
      world.published.map((batch) => batch.map((o) => [o.orderId, o.status])),
      [
        [
          ['o1', 'confirmed'],
          ['o2', 'confirmed'],
        ],
      ],
    )
  })

  it('runs the steps in order: claim → persist → commit → release → status cache → publish', async () => {
    const { deps, world } = fakes({ stock: { 'sale-1': 1 }, reserved: ['o1', 'o2'] })

    const summary = await persistOrders(deps, [orderRequested('o1'), orderRequested('o2')])

    assert.deepEqual(summary, { confirmed: 1, rejected: 1, other: 0 })
    assert.deepEqual(world.calls, ['claim o1,o2', 'persist o1,o2', 'commit o1', 'release o2', 'cache o1', 'cache o2', 'publish o1,o2'])
  })

  it('a redelivered batch creates no duplicates, takes no stock twice, releases nothing twice, and reports the same outcome', async () => {
    const events = [orderRequested('o1'), orderRequested('o2'), orderRequested('o3')]
    const { deps, world } = fakes({ stock: { 'sale-1': 2 }, reserved: ['o1', 'o2', 'o3'] })

    const first = await persistOrders(deps, events)
    world.calls.length = 0
    const again = await persistOrders(deps, events)

    assert.deepEqual(first, { confirmed: 2, rejected: 1, other: 0 })
    assert.deepEqual(again, first, 'the outcome is read back from the stored state')
    assert.equal(world.orders.size, 3)
    assert.equal(world.stock.get('sale-1'), 0)
    assert.deepEqual(statuses(world), { o1: 'confirmed', o2: 'confirmed', o3: 'rejected' })
    assert.equal(world.orders.get('o3')?.reason, 'sold_out', 'the stored reason stands, not the redelivery’s reservation_released')
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'committed', o3: 'released' })
    // The redelivery commits again (idempotent at the gate) but does not release o3 a second time:
    // its claim now answers "released", so it is not one this attempt claimed.
    assert.deepEqual(world.calls, ['claim o1,o2,o3', 'persist o1,o2,o3', 'commit o1,o2', 'cache o1', 'cache o2', 'cache o3', 'publish o1,o2,o3'])
    assert.equal(world.published.length, 2, 'each delivery publishes (read models are idempotent on the order id)')
  })

  it('a reservation already released or expired at the claim becomes a rejected order that takes no stock and is neither committed nor released', async () => {
    const { deps, world } = fakes({ stock: { 'sale-1': 10 }, reserved: ['o1', 'o2', 'o3'] })
    world.gate.set('o2', 'released')
    world.gate.set('o3', 'expired')

    const summary = await persistOrders(deps, [orderRequested('o1'), orderRequested('o2'), orderRequested('o3')])

    assert.deepEqual(summary, { confirmed: 1, rejected: 2, other: 0 })
    assert.deepEqual(
      world.persisted[0]?.map((o) => [o.orderId, o.rejectReason]),
      [
        ['o1', undefined],
        ['o2', 'reservation_released'],
        ['o3', 'reservation_expired'],
      ],
    )
    assert.deepEqual(
      [...world.orders.values()].map((o) => [o.orderId, o.status, o.reason]),
      [
        ['o1', 'confirmed', undefined],
        ['o2', 'rejected', 'reservation_released'],
        ['o3', 'rejected', 'reservation_expired'],
      ],
    )
    assert.equal(world.stock.get('sale-1'), 9)
    assert.ok(!world.calls.some((c) => c.startsWith('release')), `no release: the gate already has those units back (${world.calls.join(' | ')})`)
    assert.ok(world.calls.includes('commit o1'))
  })

  it('a reservation the gate does not know (not_found, or no answer for it) lets the database decide, and a refusal there is not released', async () => {
    // o1 and o2 are unknown to the gate; the database has stock for one of them.
    const { deps, world } = fakes({ stock: { 'sale-1': 1 } })

    const summary = await persistOrders(deps, [orderRequested('o1'), orderRequested('o2')])

    assert.deepEqual(summary, { confirmed: 1, rejected: 1, other: 0 })
    assert.deepEqual(
      world.persisted[0]?.map((o) => o.rejectReason),
      [undefined, undefined],
    )
    assert.deepEqual(statuses(world), { o1: 'confirmed', o2: 'rejected' })
    assert.ok(world.calls.includes('commit o1'))
    assert.ok(!world.calls.some((c) => c.startsWith('release')), 'an unclaimed reservation is not released')

    // A claim answer that leaves an order out is read as not_found too.
    const partial = fakes({ stock: { 'sale-1': 1 }, reserved: ['o3', 'o4'] }, { claimAnswers: () => new Map([['o3', 'ok']]) })
    assert.deepEqual(await persistOrders(partial.deps, [orderRequested('o3'), orderRequested('o4')]), { confirmed: 1, rejected: 1, other: 0 })
    assert.equal(partial.world.persisted[0]?.[1]?.rejectReason, undefined)
    assert.ok(!partial.world.calls.some((c) => c.startsWith('release')), 'o4 was not claimed, so it is not released')
  })

  it('an order the database refuses after a claim (sold out) is released at the gate, not committed', async () => {
    const { deps, world } = fakes({ stock: { 'sale-1': 2 }, reserved: ['o1', 'o2'] })

    const summary = await persistOrders(deps, [orderRequested('o1', { qty: 2 }), orderRequested('o2')])

    assert.deepEqual(summary, { confirmed: 1, rejected: 1, other: 0 })
    assert.deepEqual(world.orders.get('o2')?.reason, 'sold_out')
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'released' })
    assert.ok(world.calls.includes('commit o1'))
    assert.ok(world.calls.includes('release o2'))
  })

  it('one order twice in a batch is claimed and persisted once', async () => {
    const event = orderRequested('o1')
    const { deps, world } = fakes({ reserved: ['o1', 'o2'] })

    const summary = await persistOrders(deps, [event, orderRequested('o2'), { ...event }])

    assert.deepEqual(summary, { confirmed: 2, rejected: 0, other: 0 })
    assert.equal(world.calls[0], 'claim o1,o2')
    assert.deepEqual(
      world.persisted[0]?.map((o) => o.orderId),
      ['o1', 'o2'],
    )
    assert.equal(world.stock.get('sale-1'), 98)
  })

  it('an empty batch touches no port', async () => {
    const { deps, world } = fakes()
    assert.deepEqual(await persistOrders(deps, []), { confirmed: 0, rejected: 0, other: 0 })
    assert.deepEqual(world.calls, [])
  })

  it('the gate is down at the claim: the batch fails with the outage error, before anything is persisted, committed or published', async () => {
    let down = true
    const { deps, world } = fakes({ reserved: ['o1', 'o2'] }, { claim: () => (down ? gateDown() : undefined) })
    const events = [orderRequested('o1'), orderRequested('o2')]

    await assert.rejects(persistOrders(deps, events), GateUnavailableError)
    assert.deepEqual(world.calls, ['claim o1,o2'])
    assert.equal(world.orders.size, 0)
    assert.equal(world.stock.get('sale-1'), 100)
    assert.deepEqual(gateStates(world), { o1: 'reserved', o2: 'reserved' })
    assert.equal(world.cache.size, 0)
    assert.deepEqual(world.published, [])

    down = false
    assert.deepEqual(await persistOrders(deps, events), { confirmed: 2, rejected: 0, other: 0 }, 'the retry, once the gate is back')
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'committed' })
  })

  it('the database is down: the claimed reservations are neither committed nor released, and the retry finishes them', async () => {
    let down = true
    const dbDown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    const { deps, world } = fakes({ reserved: ['o1', 'o2'] }, { persist: () => (down ? dbDown : undefined) })
    const events = [orderRequested('o1'), orderRequested('o2')]

    await assert.rejects(persistOrders(deps, events), (err) => err === dbDown)
    assert.deepEqual(world.calls, ['claim o1,o2', 'persist o1,o2'])
    assert.equal(world.orders.size, 0)
    assert.deepEqual(gateStates(world), { o1: 'committing', o2: 'committing' }, 'claimed: the API can no longer release them')

    down = false
    assert.deepEqual(await persistOrders(deps, events), { confirmed: 2, rejected: 0, other: 0 })
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'committed' }, 'the claim answers "already" and the retry commits them')
  })

  it('the gate fails after the transaction (commit, then release): the batch fails, and its redelivery converges without a second order or a second take of stock', async () => {
    let commitDown = true
    let releaseDown = true
    const { deps, world } = fakes(
      { stock: { 'sale-1': 1 }, reserved: ['o1', 'o2'] },
      { commit: () => (commitDown ? gateDown() : undefined), release: () => (releaseDown ? gateDown() : undefined) },
    )
    const events = [orderRequested('o1'), orderRequested('o2')]

    await assert.rejects(persistOrders(deps, events), GateUnavailableError)
    assert.deepEqual(statuses(world), { o1: 'confirmed', o2: 'rejected' }, 'the transaction itself is done')
    assert.deepEqual(gateStates(world), { o1: 'committing', o2: 'committing' })
    assert.equal(world.cache.size, 0)
    assert.deepEqual(world.published, [])

    commitDown = false
    await assert.rejects(persistOrders(deps, events), GateUnavailableError, 'now the release of o2 fails')
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'committing' })
    assert.deepEqual(world.published, [])

    releaseDown = false
    world.calls.length = 0
    assert.deepEqual(await persistOrders(deps, events), { confirmed: 1, rejected: 1, other: 0 })
    assert.ok(world.calls.includes('release o2'), 'o2 was claimed ("already"), so the refusal is released on the redelivery')
    assert.deepEqual(gateStates(world), { o1: 'committed', o2: 'released' })
    assert.equal(world.orders.size, 2)
    assert.equal(world.stock.get('sale-1'), 0)
    assert.equal(world.published.length, 1)
  })

  it('a failing status cache is ignored, but a failing publish fails the batch (so it is redelivered and published again)', async () => {
    const cacheDown = fakes({ reserved: ['o1'] }, { cachePut: () => new Error('Connection is closed.') })
    assert.deepEqual(await persistOrders(cacheDown.deps, [orderRequested('o1')]), { confirmed: 1, rejected: 0, other: 0 })
    assert.equal(cacheDown.world.published.length, 1)

    const broken = new Error('publish failed')
    let publishDown = true
    const { deps, world } = fakes({ reserved: ['o2'] }, { publish: () => (publishDown ? broken : undefined) })
    const events = [orderRequested('o2')]
    await assert.rejects(persistOrders(deps, events), (err) => err === broken)
    publishDown = false
    await persistOrders(deps, events)
    assert.equal(world.orders.size, 1)
    assert.deepEqual(
      world.published.map((batch) => batch.map((o) => o.orderId)),
      [['o2']],
    )
  })

  it('orders already paid or cancelled when a batch is redelivered: paid counts as confirmed (committed again), cancelled as other (neither committed nor released)', async () => {
    const paidEvent = orderRequested('o1')
    const cancelledEvent = orderRequested('o2')
    const { deps, world } = fakes({ reserved: ['o1', 'o2'] })
    await persistOrders(deps, [paidEvent, cancelledEvent])
    // Meanwhile: o1 was paid (gate: confirmed), o2 was cancelled by the sweeper (gate: released).
    const stored = (id: string) => world.orders.get(id) as OrderStatusView
    world.orders.set('o1', { ...stored('o1'), status: 'paid' })
    world.gate.set('o1', 'confirmed')
    world.orders.set('o2', { ...stored('o2'), status: 'cancelled', reason: 'payment_timeout' })
    world.gate.set('o2', 'released')
    world.calls.length = 0

    const summary = await persistOrders(deps, [paidEvent, cancelledEvent])

    assert.deepEqual(summary, { confirmed: 1, rejected: 0, other: 1 })
    assert.deepEqual(world.calls, ['claim o1,o2', 'persist o1,o2', 'commit o1', 'cache o1', 'cache o2', 'publish o1,o2'])
    assert.deepEqual(statuses(world), { o1: 'paid', o2: 'cancelled' })
    assert.deepEqual(gateStates(world), { o1: 'confirmed', o2: 'released' })
  })
})
