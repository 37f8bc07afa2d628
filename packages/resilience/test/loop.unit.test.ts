import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startLoop } from '../src/index.ts'

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Waits for a condition (generous bound: these machines are shared), without timing anything. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await tick(10)
  assert.ok(condition(), 'the condition never held')
}

describe('startLoop: the one periodic task', () => {
  it('runs the first pass at once, not after the interval', async () => {
    const results: number[] = []
    const loop = startLoop(async () => 1, { intervalMs: 60_000, onPass: (r) => results.push(r), onError: () => {} })
    await until(() => results.length === 1)
    await loop.stop()
    assert.deepEqual(results, [1])
  })

  it('reports a failing pass and runs the next one', async () => {
    const results: number[] = []
    const errors: unknown[] = []
    let n = 0
    const loop = startLoop(
      async () => {
        n++
        if (n === 2) throw new Error('pass 2 failed')
        return n
      },
      { intervalMs: 1, onPass: (r) => results.push(r), onError: (e) => errors.push(e) },
    )
    await until(() => results.length >= 2)
    await loop.stop()
    assert.deepEqual(results.slice(0, 2), [1, 3], 'pass 2 failed, pass 3 ran')
    assert.equal(errors.length, 1)
    assert.match(String(errors[0]), /pass 2 failed/)
  })

  it('never runs two passes at once, and stop() waits for the pass in flight, then no pass starts', async () => {
    let running = 0
    let most = 0
    let finished = 0
    const loop = startLoop(
      async () => {
        running++
        most = Math.max(most, running)
        await tick(30)
        running--
        finished++
      },
      { intervalMs: 1, onError: () => {} },
    )
    await until(() => running === 1)
    await loop.stop()
    assert.equal(running, 0, 'the pass in flight finished before stop() resolved')
    const after = finished
    await tick(40)
    assert.equal(finished, after, 'no pass after stop()')
    assert.equal(most, 1)
  })

  it('refuses an interval that is not positive', () => {
    assert.throws(() => startLoop(async () => 0, { intervalMs: 0, onError: () => {} }), /interval must be > 0 ms/)
  })
})
