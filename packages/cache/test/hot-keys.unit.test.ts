import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHotKeyDetector } from '../src/index.ts'

describe('hot-key detection (count-min sketch over a sliding window)', () => {
  it('marks a key hot once it reaches the threshold within the window', () => {
    const hot = createHotKeyDetector({ windowMs: 1_000, threshold: 10 })
    const t = 1_000_000
    for (let i = 0; i < 9; i++) hot.record('p:1', t + i)
    assert.equal(hot.isHot('p:1', t + 9), false)
    hot.record('p:1', t + 9)
    assert.equal(hot.isHot('p:1', t + 10), true)
    assert.equal(hot.isHot('p:2', t + 10), false)
  })

  it('forgets old reads: half the previous window counts halfway through the next, none after two', () => {
    const hot = createHotKeyDetector({ windowMs: 1_000, threshold: 10 })
    const t = 2_000_000
    for (let i = 0; i < 20; i++) hot.record('p:1', t + i)
    assert.equal(hot.estimate('p:1', t + 1_500), 10)
    assert.equal(hot.isHot('p:1', t + 1_600), false)
    assert.equal(hot.estimate('p:1', t + 2_100), 0)
  })

  it('a flood of distinct cold keys does not make another cold key hot', () => {
    const hot = createHotKeyDetector({ windowMs: 1_000, threshold: 10 })
    const t = 3_000_000
    for (let i = 0; i < 5_000; i++) hot.record(`crawler:${i}`, t)
    hot.record('p:cold', t)
    hot.record('p:cold', t)
    assert.equal(hot.isHot('p:cold', t), false, `estimate ${hot.estimate('p:cold', t)}`)
    for (let i = 0; i < 10; i++) hot.record('p:hot', t)
    assert.equal(hot.isHot('p:hot', t), true)
  })

  it('with threshold 1 every key read is hot', () => {
    const hot = createHotKeyDetector({ threshold: 1 })
    hot.record('x')
    assert.equal(hot.isHot('x'), true)
  })
})
