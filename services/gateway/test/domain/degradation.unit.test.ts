import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createDegradation, percentile99 } from '../../src/domain/degradation.ts'

const make = (changes: Array<[boolean, string]> = []) =>
  createDegradation({
    enter: { elu: 0.9, p99Ms: 500, errorRate: 0.05 },
    leave: { elu: 0.7, p99Ms: 250, errorRate: 0.01 },
    enterAfterMs: 3_000,
    leaveAfterMs: 10_000,
    onChange: (d, r) => changes.push([d, r]),
  })
const calm = { elu: 0.2, coreP99Ms: 20, errorRate: 0 }

describe('degradation hysteresis', () => {
  test('enters only after a signal stays above its enter threshold for the whole enter time', () => {
    const d = make()
    assert.equal(d.observe({ elu: 0.95 }, 0).degraded, false)
    assert.equal(d.observe({ elu: 0.95 }, 2_000).degraded, false)
    const s = d.observe({ elu: 0.95 }, 3_000)
    assert.equal(s.degraded, true)
    assert.equal(s.reason, 'elu')
  })

  test('a spike that ends before the enter time does not degrade (the timer restarts)', () => {
    const d = make()
    d.observe({ elu: 0.95 }, 0)
    d.observe(calm, 2_000)
    d.observe({ elu: 0.95 }, 2_500)
    assert.equal(d.observe({ elu: 0.95 }, 5_000).degraded, false)
    assert.equal(d.observe({ elu: 0.95 }, 5_500).degraded, true)
  })

  test('p99 of core routes and the error rate trip it too, each with its reason', () => {
    const byP99 = make()
    byP99.observe({ elu: 0.1, coreP99Ms: 800 }, 0)
    assert.equal(byP99.observe({ elu: 0.1, coreP99Ms: 800 }, 3_000).reason, 'p99')
    const byErrors = make()
    byErrors.observe({ elu: 0.1, errorRate: 0.2 }, 0)
    assert.equal(byErrors.observe({ elu: 0.1, errorRate: 0.2 }, 3_000).reason, 'error_rate')
  })

  test('between the two thresholds it stays degraded (no flapping); it leaves only after the leave time below the lower one', () => {
    const changes: Array<[boolean, string]> = []
    const d = make(changes)
    d.observe({ elu: 0.95 }, 0)
    d.observe({ elu: 0.95 }, 3_000)
    assert.equal(d.observe({ elu: 0.8 }, 20_000).degraded, true, '0.8 is below enter but above leave')
    d.observe(calm, 21_000)
    assert.equal(d.observe(calm, 30_000).degraded, true, '9 s calm is not enough')
    d.observe({ elu: 0.75 }, 30_500)
    d.observe(calm, 31_000)
    assert.equal(d.observe(calm, 40_000).degraded, true, 'the leave timer restarted')
    assert.equal(d.observe(calm, 41_000).degraded, false)
    assert.deepEqual(changes, [
      [true, 'elu'],
      [false, 'normal'],
    ])
  })

  test('the manual override wins over the signals both ways, and auto resumes from the signals', () => {
    const d = make()
    assert.equal(d.setMode('on').degraded, true)
    assert.equal(d.observe(calm, 0).degraded, true)
    d.setMode('off')
    d.observe({ elu: 0.99 }, 1_000)
    assert.equal(d.observe({ elu: 0.99 }, 5_000).degraded, false)
    assert.equal(d.setMode('auto').degraded, true, 'the signals said degraded meanwhile')
  })

  test('percentile99 needs enough samples and picks the nearest rank', () => {
    assert.equal(percentile99([1, 2, 3]), undefined)
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    assert.equal(percentile99(values), 99)
  })
})
