import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import {
  chainOf,
  createFallbackChain,
  createGcraChain,
  createLocalLimiter,
  createLoopStallClock,
  isDeadlineExceeded,
  withLoopAwareDeadline,
} from '../src/index.ts'

/** Keeps the event loop busy for `ms`, as a burst of work on a saturated gateway does. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

describe('loop-stall clock: the time the event loop was busy elsewhere', () => {
  it('counts a blocked loop as stalled time, and an idle wait as none', async () => {
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      await sleep(20)
      const idleStart = clock.stalledMs()
      await sleep(100)
      const idle = clock.stalledMs() - idleStart
      assert.ok(idle < 40, `an idle loop is hardly stalled (${idle.toFixed(1)} ms of 100 ms)`)

      const busyStart = clock.stalledMs()
      blockLoop(200)
      await sleep(10)
      const busy = clock.stalledMs() - busyStart
      assert.ok(busy >= 150 && busy <= 260, `a 200 ms block shows as ~200 ms stalled (${busy.toFixed(1)} ms)`)
    } finally {
      clock.stop()
    }
  })

  it('never goes backwards, also between ticks', async () => {
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      let last = clock.stalledMs()
      for (let i = 0; i < 50; i++) {
        if (i % 10 === 0) blockLoop(15)
        const now = clock.stalledMs()
        assert.ok(now >= last, `${now} >= ${last}`)
        last = now
        await sleep(1)
      }
    } finally {
      clock.stop()
    }
  })
})

describe('withLoopAwareDeadline: a late timer on a busy loop is not a slow answer', () => {
  it('rejects with DeadlineExceededError when the other side takes longer than the deadline on an idle loop', async () => {
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      const never = new Promise<string>(() => {})
      const error = await withLoopAwareDeadline(never, 30, { stall: clock }).catch((e: unknown) => e)
      assert.ok(isDeadlineExceeded(error), `got ${String(error)}`)
    } finally {
      clock.stop()
    }
  })

  it('resolves with an answer that arrived while the loop was blocked past the deadline', async () => {
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      // The answer is ready 5 ms in (an I/O callback), but the loop is blocked for 120 ms, so the 30 ms timer
      // fires 90 ms late in the same turn as the answer. A plain timer would report a timeout here.
      const answer = new Promise<string>((resolve) => setTimeout(() => resolve('ok'), 5))
      const result = withLoopAwareDeadline(answer, 30, { stall: clock })
      blockLoop(120)
      assert.equal(await result, 'ok')
    } finally {
      clock.stop()
    }
  })

  it('gives the other side its whole deadline of responsive time after a stall', async () => {
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      let resolveLate!: (v: string) => void
      const answer = new Promise<string>((resolve) => (resolveLate = resolve))
      const result = withLoopAwareDeadline(answer, 50, { stall: clock })
      blockLoop(100) // the whole deadline passes while we are busy: not the other side's time
      setTimeout(() => resolveLate('late but in time'), 20) // 20 ms of responsive time later
      assert.equal(await result, 'late but in time')
    } finally {
      clock.stop()
    }
  })
})

describe('rate-limit fallback on a busy loop, real Redis', () => {
  let t: TestRedis
  let redis: Redis
  before(async () => {
    t = await createTestRedis('loop_stall_fallback')
    redis = new Redis(t.url, { keyPrefix: t.prefix, enableAutoPipelining: true })
  })
  after(async () => {
    redis.disconnect()
    await t.cleanup()
  })

  it('answers from Redis while the loop is blocked past the timeout, and reports no outage', async () => {
    const policy = { name: 'busy', ratePerPeriod: 1_000, periodMs: 1_000, burst: 1_000 }
    const errors: string[] = []
    const clock = createLoopStallClock({ resolutionMs: 5 })
    try {
      const chain = createFallbackChain(createGcraChain(redis, [policy], { batch: true }), chainOf([createLocalLimiter(policy)]), {
        timeoutMs: 20,
        stall: clock,
        onPrimaryError: (_e, reason) => errors.push(reason),
      })
      await chain.check([{ key: 'warm' }])
      const checks = Array.from({ length: 200 }, (_, i) => chain.check([{ key: `u${i}` }]))
      blockLoop(150) // the gateway busy with a burst: every 20 ms timer is 130 ms late
      const verdicts = await Promise.all(checks)
      const sources = verdicts.map((v) => v[0]!.result.source)
      assert.equal(sources.filter((s) => s === 'redis').length, 200, `answered by Redis: ${sources.filter((s) => s === 'redis').length} of 200`)
      assert.deepEqual(errors, [], 'a busy loop is not a Redis outage')
    } finally {
      clock.stop()
    }
  })
})
