/**
 * placeOrder's rare branches, with in-memory fakes of its ports (no servers): the failures that are hard to
 * provoke on real ones at the right instant. The real-server tests (test/place-order.test.ts) keep the
 * common paths and the invariants.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { OrderRequested } from '@flashsale/kafka'
import { placeOrder, type PlaceOrderCommand, type PlaceOrderDeps } from '../../src/domain/place-order.ts'
import type { IdempotencyBegin, PlacementOutcome, ReleaseResult, ReserveResult } from '../../src/domain/ports.ts'

interface Fakes {
  keys: Map<string, { fingerprint: string; outcome?: PlacementOutcome }>
  reserved: string[]
  released: string[]
  enqueued: OrderRequested[]
  errors: string[]
}

/** Fakes that behave like the real adapters, with one hook per port to make it fail. */
function fakes(overrides: {
  begin?: () => Promise<IdempotencyBegin>
  sale?: () => Promise<{ saleId: string } | undefined>
  reserve?: () => Promise<ReserveResult>
  enqueue?: () => Promise<void>
  release?: () => Promise<ReleaseResult>
  statusPut?: () => Promise<void>
}): { deps: PlaceOrderDeps; state: Fakes } {
  const state: Fakes = { keys: new Map(), reserved: [], released: [], enqueued: [], errors: [] }
  let next = 0
  const deps: PlaceOrderDeps = {
    idempotency: {
      async begin(userId, key, fingerprint) {
        if (overrides.begin) return overrides.begin()
        const held = state.keys.get(`${userId}:${key}`)
        if (!held) {
          state.keys.set(`${userId}:${key}`, { fingerprint })
          return { kind: 'new' }
        }
        return held.outcome ? { kind: 'done', fingerprint: held.fingerprint, outcome: held.outcome } : { kind: 'in_progress', fingerprint: held.fingerprint }
      },
      async complete(userId, key, fingerprint, outcome) {
        state.keys.set(`${userId}:${key}`, { fingerprint, outcome })
      },
      async forget(userId, key) {
        state.keys.delete(`${userId}:${key}`)
      },
    },
    sales: { currentSaleOf: overrides.sale ?? (async () => ({ saleId: 'sale-1' })) },
    gate: {
      async reserve({ orderId }) {
        if (overrides.reserve) return overrides.reserve()
        state.reserved.push(orderId)
        return { kind: 'reserved', expiresAt: new Date('2026-12-07T12:00:00Z') }
      },
      async release({ orderId }) {
        state.released.push(orderId)
        return overrides.release ? overrides.release() : 'released'
      },
    },
    queue: {
      async enqueue(event) {
        if (overrides.enqueue) return overrides.enqueue()
        state.enqueued.push(event)
      },
    },
    statusCache: { put: overrides.statusPut ?? (async () => {}), get: async () => undefined },
    newOrderId: () => `order-${++next}`,
    now: () => new Date('2026-12-07T11:00:00Z'),
    inProgressWaitMs: 0,
    sleep: async () => {},
    log: { warn: () => {}, error: (_obj, msg) => void state.errors.push(msg) },
  }
  return { deps, state }
}

const command: PlaceOrderCommand = { userId: 'u1', bearerToken: 't', idempotencyKey: 'k1', sku: 'SKU-1', qty: 1 }
const failing = () => Promise.reject(new Error('down'))

describe('placeOrder, rare branches (in-memory ports)', () => {
  it('the enqueue fails but the release answers "persisted": the event did land and the worker claimed it, so the order is accepted', async () => {
    const { deps, state } = fakes({ enqueue: failing, release: async () => 'persisted' })
    const result = await placeOrder(deps, command)
    assert.deepEqual(result, { kind: 'accepted', orderId: 'order-1', replayed: false })
    assert.deepEqual(state.keys.get('u1:k1')?.outcome, { kind: 'accepted', orderId: 'order-1' }, 'a repeat replays the acceptance')
  })

  it('the enqueue fails and the units are released: 503 queue_unavailable, and the key is free for a retry', async () => {
    const { deps, state } = fakes({ enqueue: failing, release: async () => 'released' })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'queue_unavailable' })
    assert.deepEqual(state.released, ['order-1'])
    assert.equal(state.keys.has('u1:k1'), false)
    assert.deepEqual(state.errors, [])
  })

  it('the enqueue fails and the release cannot say: refused, the key freed, and the stranded reservation logged as an error', async () => {
    const { deps, state } = fakes({ enqueue: failing, release: async () => 'failed' })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'queue_unavailable' })
    assert.equal(state.keys.has('u1:k1'), false)
    assert.equal(state.errors.length, 1)
  })

  it('the Idempotency-Key store is down: refused before anything is reserved', async () => {
    const { deps, state } = fakes({ begin: failing })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'idempotency_unavailable' })
    assert.deepEqual(state.reserved, [])
  })

  it('the sale lookup fails: gate_unavailable, nothing reserved, the key freed', async () => {
    const { deps, state } = fakes({ sale: failing })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'gate_unavailable', retryAfterSeconds: 1 })
    assert.deepEqual(state.reserved, [])
    assert.equal(state.keys.has('u1:k1'), false)
  })

  it('the gate is unavailable: its Retry-After is passed on and the key freed', async () => {
    const { deps, state } = fakes({ reserve: async () => ({ kind: 'unavailable', retryAfterSeconds: 3 }) })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'gate_unavailable', retryAfterSeconds: 3 })
    assert.equal(state.keys.has('u1:k1'), false)
  })

  it('a gate refusal is stored under the key: the repeat replays it without asking the gate again', async () => {
    let asked = 0
    const { deps } = fakes({
      reserve: async () => {
        asked++
        return { kind: 'refused', reason: 'sold_out' }
      },
    })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'refused', reason: 'sold_out', saleId: 'sale-1', replayed: false })
    assert.deepEqual(await placeOrder(deps, command), { kind: 'refused', reason: 'sold_out', saleId: 'sale-1', replayed: true })
    assert.equal(asked, 1)
  })

  it('the status cache write fails: the order is still accepted (GET /orders/:id falls back to the database)', async () => {
    const { deps, state } = fakes({ statusPut: failing })
    assert.equal((await placeOrder(deps, command)).kind, 'accepted')
    assert.equal(state.enqueued.length, 1)
  })

  it('the same key with another body is refused as reused, changing nothing', async () => {
    const { deps, state } = fakes({})
    await placeOrder(deps, command)
    assert.deepEqual(await placeOrder(deps, { ...command, qty: 2 }), { kind: 'key_reused' })
    assert.equal(state.enqueued.length, 1)
  })
})
