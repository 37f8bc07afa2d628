import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Upstream } from '../../src/upstream/upstream.ts'
import { orderLoadSignals } from '../../src/waiting-room/wiring.ts'

const limit = { limit: 20, inflight: 0, queuedCore: 0, queuedNonCore: 0, standingQueue: false, servedPerSecond: 0, serviceMs: 0, reserveMs: 0, floor: 0 }
const upstream = (breaker: string, l: Partial<typeof limit>) =>
  ({ snapshot: () => ({ balancing: 'rr', breaker, limit: { ...limit, ...l }, retryBudget: 1, instances: [] }) }) as unknown as Upstream
const calm = { state: () => ({ mode: 'auto' as const, degraded: false, reason: 'normal' }) }

describe("the order path's signals for the waiting rooms", () => {
  test('capacity: completions per second when measured, else the limit over the service time (Little)', () => {
    assert.equal(orderLoadSignals(upstream('closed', { servedPerSecond: 420, serviceMs: 10 }), calm).capacityPerSecond, 420)
    assert.equal(orderLoadSignals(upstream('closed', { serviceMs: 40 }), calm).capacityPerSecond, 500)
    assert.equal(orderLoadSignals(upstream('closed', {}), calm).capacityPerSecond, undefined)
    assert.equal(orderLoadSignals(undefined, calm).capacityPerSecond, undefined)
  })
  test('admissions pause while degraded by the order path or by hand, while the breaker is not closed, and while the queue stands', () => {
    assert.equal(orderLoadSignals(upstream('closed', {}), calm).pausedBy, undefined)
    const degraded = (reason: string) => ({ state: () => ({ mode: 'auto' as const, degraded: true, reason }) })
    assert.equal(orderLoadSignals(upstream('closed', {}), degraded('manual')).pausedBy, 'degraded')
    assert.equal(orderLoadSignals(upstream('closed', {}), degraded('p99')).pausedBy, 'degraded')
    assert.equal(orderLoadSignals(upstream('closed', {}), degraded('elu')).pausedBy, undefined, "the gateway's own busy loop is not the order path refusing")
    assert.equal(orderLoadSignals(upstream('half-open', {}), calm).pausedBy, 'breaker')
    assert.equal(orderLoadSignals(upstream('closed', { standingQueue: true }), calm).pausedBy, 'queue')
    assert.equal(orderLoadSignals(upstream('closed', { queuedCore: 19 }), calm).pausedBy, undefined, 'fewer waiters than the limit')
    assert.equal(orderLoadSignals(upstream('closed', { queuedCore: 20 }), calm).pausedBy, 'queue', 'a full limit of waiters')
  })
})
