/**
 * The gateway judges an upstream by the upstream's own time, never by its own event-loop delay (ADR 0025):
 * a gateway whose loop is blocked in bursts, in front of a fast real upstream (a process of its own),
 * keeps its concurrency limit and its breaker as they were. Before this, the round trip measured across
 * a stall counted as upstream latency: the slow-call window opened the breaker and Gradient2 walked the
 * limit down to its floor.
 * Serial: the no-Server-Timing arm removes only the stall this process measured, so CPU taken by other
 * test processes would read as upstream time; it needs the machine to itself.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { startGateway, type Gateway } from './helpers.ts'

const ORDER_ID = '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b'

async function startFastUpstream(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures/fast-upstream.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await once(child.stdout!, 'data')) as [Buffer]
  return { url: `http://127.0.0.1:${String(line).trim()}`, child }
}

/** Busy-waits `ms`: the gateway's loop stalled, as under a burst of work. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

/** `concurrency` clients calling GET /orders/:id back to back for `ms`; returns the statuses seen. */
async function load(gw: Gateway, token: string, concurrency: number, ms: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>()
  const end = Date.now() + ms
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const res = await gw.request({ method: 'GET', url: `/orders/${ORDER_ID}`, token })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
    }),
  )
  return statuses
}

for (const serverTiming of [true, false]) {
  const how = serverTiming ? 'reported in Server-Timing' : 'round trip less the measured stall (no Server-Timing)'
  describe(`honest signals: the upstream's own time, ${how}`, () => {
    let gw: Gateway
    let upstream: { url: string; child: ChildProcess }
    before(async () => {
      // 30 ms answers: longer than the loop's free moments below, so every round trip spans a stall.
      upstream = await startFastUpstream({ ANSWER_MS: '30', SERVER_TIMING: serverTiming ? '1' : '0' })
      gw = await startGateway(`honest_${serverTiming ? 'st' : 'stall'}`, {
        upstreams: { order: [upstream.url] },
        env: {
          LIMIT_ALGORITHM: 'gradient2',
          LIMIT_INITIAL: '20',
          LIMIT_MIN: '5',
          BREAKER_SLOW_CALL_MS: '60',
          BREAKER_SLOW_CALL_RATE: '0.5',
          BREAKER_MINIMUM_CALLS: '10',
          BREAKER_WINDOW_MS: '2000', // the stalled phase alone fills the window
          RETRY_MAX_ATTEMPTS: '1',
        },
      })
    })
    after(async () => {
      await gw.close()
      upstream.child.kill('SIGTERM')
    })

    test('a gateway whose event loop is blocked in bursts keeps its limit above the floor and its breaker closed', async () => {
      const token = await gw.buyerToken('alice')
      // Learn the upstream's normal latency first, with a free loop.
      await load(gw, token, 15, 1_500)
      const limitBefore = await gw.metric('gateway_concurrency_limit', { upstream: 'order' })

      // Then stall the loop for 80 ms out of every 100 ms: every round trip spans a stall.
      const blocker = setInterval(() => blockLoop(80), 20)
      let statuses: Map<number, number>
      try {
        statuses = await load(gw, token, 15, 3_000)
      } finally {
        clearInterval(blocker)
      }
      await sleep(50)

      const answered = [...statuses.values()].reduce((a, b) => a + b, 0)
      assert.equal(statuses.get(200), answered, `every request answered 200: ${JSON.stringify(Object.fromEntries(statuses))}`)
      assert.equal(await gw.metric('gateway_breaker_state', { upstream: 'order' }), 0, 'breaker closed')
      assert.equal(await gw.metric('gateway_breaker_transitions_total', { upstream: 'order', state: 'open' }), 0, 'it never opened')
      const limitAfter = await gw.metric('gateway_concurrency_limit', { upstream: 'order' })
      assert.ok(limitAfter >= limitBefore && limitAfter > 5, `limit ${limitBefore} -> ${limitAfter}: not walked down toward the floor (5)`)
      // The gateway did see slow round trips: the test stalled it, and the metric shows it.
      assert.ok((await gw.metric('gateway_event_loop_stall_seconds_total')) > 1, 'the stall was measured')
      const source = serverTiming ? 'server_timing' : 'stall_corrected'
      assert.ok((await gw.metric('gateway_upstream_own_duration_seconds_count', { upstream: 'order', source })) >= answered, `own time from ${source}`)
    })
  })
}
