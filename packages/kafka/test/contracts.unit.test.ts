import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidEventError, OrderRequestedV1, OrderStatusChangedV1, eventHeaders, parseEvent, type OrderRequested } from '../src/index.ts'

const requested: OrderRequested = {
  type: 'order.requested',
  v: 1,
  orderId: '01936b1e-7c2a-7000-8000-000000000001',
  userId: 'user-1',
  saleId: 'sale-1',
  sku: 'SKU-1',
  qty: 1,
  idempotencyKey: 'k1',
  reservationExpiresAt: '2026-11-22T21:00:00.000Z',
  requestedAt: '2026-11-22T20:50:00.000Z',
}

describe('event contracts', () => {
  it('parses a valid order.requested and keeps unknown fields (forward compatible)', () => {
    const parsed = parseEvent(OrderRequestedV1, JSON.stringify({ ...requested, channel: 'app' }))
    assert.equal(parsed.orderId, requested.orderId)
    assert.equal((parsed as Record<string, unknown>)['channel'], 'app')
  })

  it('rejects a payload that is not JSON, naming the problem', () => {
    assert.throws(
      () => parseEvent(OrderRequestedV1, '{"type":'),
      (e: unknown) => e instanceof InvalidEventError && /not JSON/.test(e.message),
    )
  })

  it('rejects a wrong version, a missing field and a bad quantity, naming each', () => {
    assert.throws(() => parseEvent(OrderRequestedV1, JSON.stringify({ ...requested, v: 2 })), /order\.requested.*\/v/)
    const { sku: _sku, ...noSku } = requested
    assert.throws(() => parseEvent(OrderRequestedV1, JSON.stringify(noSku)), /sku/)
    assert.throws(() => parseEvent(OrderRequestedV1, JSON.stringify({ ...requested, qty: 0 })), /qty/)
    assert.throws(() => parseEvent(OrderRequestedV1, JSON.stringify({ ...requested, requestedAt: 'yesterday' })), /requestedAt/)
  })

  it('accepts only the known statuses in order.status-changed', () => {
    const base = { type: 'order.status-changed', v: 1, orderId: 'o1', userId: 'u1', saleId: 's1', sku: 'SKU-1', qty: 1, occurredAt: '2026-11-22T20:50:00Z' }
    assert.equal(parseEvent(OrderStatusChangedV1, JSON.stringify({ ...base, status: 'paid' })).status, 'paid')
    assert.throws(() => parseEvent(OrderStatusChangedV1, JSON.stringify({ ...base, status: 'shipped' })), InvalidEventError)
  })

  it('builds the type and version headers', () => {
    assert.deepEqual(eventHeaders(requested), { 'event-type': 'order.requested', 'event-version': '1' })
  })
})
