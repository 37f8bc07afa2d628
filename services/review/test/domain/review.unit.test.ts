import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { countsAsPurchase, nextStatus, ratingFrom } from '../../src/domain/review.ts'

describe('review rules', () => {
  it('order status transitions: redeliveries change nothing, cancelled/rejected are final', () => {
    assert.equal(nextStatus(undefined, 'confirmed'), 'confirmed')
    assert.equal(nextStatus('confirmed', 'confirmed'), undefined)
    assert.equal(nextStatus('confirmed', 'paid'), 'paid')
    assert.equal(nextStatus('paid', 'confirmed'), undefined)
    assert.equal(nextStatus('paid', 'cancelled'), 'cancelled')
    assert.equal(nextStatus('cancelled', 'paid'), undefined)
    assert.equal(nextStatus('rejected', 'confirmed'), undefined)
    assert.deepEqual((['confirmed', 'paid', 'cancelled', 'rejected'] as const).map(countsAsPurchase), [true, true, false, false])
  })

  it('rating: count, rounded average and a full histogram', () => {
    assert.deepEqual(ratingFrom(new Map()), { count: 0, average: null, histogram: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 } })
    assert.deepEqual(
      ratingFrom(
        new Map([
          [1, 1],
          [5, 2],
        ]),
      ),
      { count: 3, average: 3.67, histogram: { 1: 1, 2: 0, 3: 0, 4: 0, 5: 2 } },
    )
  })
})
