import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import { BREAKER_STATE_VALUE, BrokenCircuitError, circuitBreaker, isBrokenCircuitError, type BreakerState, type CircuitBreaker } from '../src/index.ts'

// cockatiel's breaker times the open → half-open wait with Date.now(); ours measures call durations with
// the same clock. Mocking Date moves both; `tick` inside a call makes that call slow.
beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000_000 }))
afterEach(() => mock.timers.reset())

const ok = (b: CircuitBreaker, n = 1) => Promise.all(Array.from({ length: n }, () => b.execute(() => 'ok')))
const fail = async (b: CircuitBreaker, n = 1, error: unknown = new Error('upstream 503')) => {
  for (let i = 0; i < n; i++) await assert.rejects(b.execute(() => Promise.reject(error)))
}
const slow = (b: CircuitBreaker, ms = 600) =>
  b.execute(() => {
    mock.timers.tick(ms)
    return 'slow but fine'
  })

function recordStates(b: CircuitBreaker): BreakerState[] {
  const states: BreakerState[] = []
  b.onStateChange((s) => states.push(s))
  return states
}

describe('circuit breaker (cockatiel state machine, our error-rate and slow-call window)', () => {
  it('stays closed below minimumCalls even when every call fails, and opens on the call that reaches it', async () => {
    const b = circuitBreaker({ minimumCalls: 20 })
    await fail(b, 19)
    assert.equal(b.state, 'closed')
    await fail(b, 1)
    assert.equal(b.state, 'open')
  })

  it('opens when more than 5% of the calls in the window fail, not at exactly 5%', async () => {
    const b = circuitBreaker()
    await ok(b, 95)
    await fail(b, 5) // 5 of 100: exactly 5%
    assert.equal(b.state, 'closed')
    await fail(b, 1) // 6 of 101
    assert.equal(b.state, 'open')
    assert.deepEqual(b.stats(), { calls: 101, failures: 6, slowCalls: 0 })
  })

  it('opens on slow calls (>= 500 ms) once half of the calls are slow, and still returns their values', async () => {
    const b = circuitBreaker({ minimumCalls: 10 })
    await ok(b, 5)
    for (let i = 0; i < 4; i++) assert.equal(await slow(b), 'slow but fine')
    assert.equal(b.state, 'closed', '4 slow of 9 calls, under the minimum')
    await slow(b, 499) // just under the threshold: not slow
    assert.equal(b.state, 'closed')
    assert.equal(await slow(b), 'slow but fine') // 5 slow of 11
    assert.equal(b.state, 'closed', '5 of 11 is under 50%')
    await slow(b) // 6 of 12
    assert.equal(b.state, 'open')
  })

  it('while open, refuses calls with BrokenCircuitError without running them', async () => {
    const b = circuitBreaker({ minimumCalls: 1, failureRateThreshold: 0.5 })
    await fail(b)
    let ran = false
    const refused = b.execute(() => (ran = true))
    await assert.rejects(refused, BrokenCircuitError)
    await refused.catch((e: unknown) => assert.ok(isBrokenCircuitError(e)))
    assert.equal(ran, false)
  })

  it('half-opens after halfOpenAfterMs and closes once all half-open probes succeed; the old failures are forgotten', async () => {
    const b = circuitBreaker({ minimumCalls: 1, halfOpenAfterMs: 5_000, halfOpenCalls: 3 })
    const states = recordStates(b)
    await fail(b)
    mock.timers.tick(4_999)
    await assert.rejects(
      b.execute(() => 'too early'),
      BrokenCircuitError,
    )
    mock.timers.tick(1)
    await ok(b) // first probe: open → half-open
    assert.equal(b.state, 'half-open')
    await ok(b, 1)
    await ok(b, 1)
    assert.equal(b.state, 'closed')
    assert.deepEqual(states, ['open', 'half-open', 'closed'])
    assert.deepEqual(b.stats(), { calls: 0, failures: 0, slowCalls: 0 })
  })

  it('reopens when a half-open probe fails, and when a probe is slow', async () => {
    const b = circuitBreaker({ minimumCalls: 1, halfOpenAfterMs: 1_000 })
    const states = recordStates(b)
    await fail(b)
    mock.timers.tick(1_000)
    await fail(b) // failing probe
    assert.equal(b.state, 'open')
    mock.timers.tick(1_000)
    assert.equal(await slow(b), 'slow but fine') // slow probe: the caller gets its value, the circuit reopens
    assert.equal(b.state, 'open')
    assert.deepEqual(states, ['open', 'half-open', 'open', 'half-open', 'open'])
  })

  it('does not count errors that isFailure rejects (a 4xx is the caller’s fault, not the upstream’s)', async () => {
    const notFound = Object.assign(new Error('not found'), { statusCode: 404 })
    const b = circuitBreaker({ minimumCalls: 5, isFailure: (e) => (e as { statusCode?: number }).statusCode !== 404 })
    await fail(b, 50, notFound)
    assert.equal(b.state, 'closed')
    assert.equal(b.stats().calls, 0)
  })

  it('forgets calls older than the window (10 s)', async () => {
    const b = circuitBreaker({ minimumCalls: 10 })
    await ok(b, 5)
    await fail(b, 4)
    mock.timers.tick(10_000)
    assert.deepEqual(b.stats(), { calls: 0, failures: 0, slowCalls: 0 })
    await fail(b, 1)
    assert.equal(b.state, 'closed', 'one failure in a fresh window is under minimumCalls')
  })

  it('can be held open by hand (isolate) and released', async () => {
    const b = circuitBreaker()
    const release = b.isolate()
    assert.equal(b.state, 'isolated')
    await assert.rejects(b.execute(() => 'x'))
    release()
    assert.equal(b.state, 'closed')
    assert.equal(BREAKER_STATE_VALUE[b.state], 0)
  })

  it('judges slowness by durationOf when given: a call the caller measured at 900 ms but the dependency answered in 20 ms is not slow', async () => {
    const b = circuitBreaker({ minimumCalls: 10, windowMs: 60_000, durationOf: (value) => (value as { ownMs: number }).ownMs })
    for (let i = 0; i < 20; i++) {
      await b.execute(() => {
        mock.timers.tick(900) // our own event loop was busy: the wall time says 900 ms
        return { ownMs: 20 }
      })
    }
    assert.deepEqual(b.stats(), { calls: 20, failures: 0, slowCalls: 0 })
    assert.equal(b.state, 'closed')
    for (let i = 0; i < 20; i++) await b.execute(() => ({ ownMs: 700 })) // the dependency itself is slow
    assert.equal(b.state, 'open', 'slow by its own account opens it')
  })
})
