import assert from 'node:assert/strict'
import { afterEach, describe, it, mock } from 'node:test'
import { DeadlineExceededError, createRetryBudget, isClientError, retryWithBudget, withTimeout, type RetryGiveUp } from '../src/index.ts'

const upstream503 = () => Object.assign(new Error('upstream 503'), { statusCode: 503 })
const noDelay = { baseMs: 0, capMs: 0 }

describe('retry budget (Finagle TokenRetryBudget: deposits per request, withdrawals per retry, 10 s expiry)', () => {
  it('with no requests, the reserve alone allows minPerSecond × ttl retries, and it comes back after ttl', () => {
    let t = 0
    const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 10, ttlMs: 10_000, now: () => t })
    assert.equal(budget.balance, 100)
    for (let i = 0; i < 100; i++) assert.equal(budget.tryWithdraw(), true)
    assert.equal(budget.tryWithdraw(), false)
    assert.equal(budget.balance, 0)
    t += 10_000
    assert.equal(budget.balance, 100)
  })

  it('each request deposited adds `ratio` of a retry (10 requests → 1 retry at ratio 0.1)', () => {
    const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 0, now: () => 0 })
    assert.equal(budget.tryWithdraw(), false)
    for (let i = 0; i < 9; i++) budget.deposit()
    assert.equal(budget.tryWithdraw(), false)
    budget.deposit()
    assert.equal(budget.tryWithdraw(), true)
    assert.equal(budget.tryWithdraw(), false)
  })

  it('under a failure storm, retries stay within ratio × requests + minPerSecond × (duration + ttl)', async () => {
    let t = 0
    const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 10, ttlMs: 10_000, now: () => t })
    let requests = 0
    let attempts = 0
    const durationMs = 30_000
    for (; t < durationMs; t += 10) {
      // 100 requests per second against an upstream that always fails, 3 attempts allowed each.
      requests++
      await retryWithBudget(
        async () => {
          attempts++
          throw upstream503()
        },
        { budget, idempotent: true, backoff: noDelay },
      ).catch(() => {})
    }
    const retries = attempts - requests
    const bound = 0.1 * requests + 10 * ((durationMs + 10_000) / 1000)
    assert.ok(retries <= bound, `${retries} retries for ${requests} requests exceeds ${bound}`)
    assert.ok(retries >= 0.1 * requests, `${retries} retries: the budget should still allow its 10%`)
    assert.ok(retries < requests, 'without the budget every request would have been retried twice')
  })
})

describe('retryWithBudget', () => {
  const budget = () => createRetryBudget({ now: () => 0 })

  async function run(
    error: () => unknown,
    options: { idempotent: boolean; maxAttempts?: number; isRetryable?: (e: unknown) => boolean; neverSent?: (e: unknown) => boolean },
  ) {
    let calls = 0
    const gaveUp: RetryGiveUp[] = []
    await assert.rejects(
      retryWithBudget(
        async () => {
          calls++
          throw error()
        },
        { budget: budget(), backoff: noDelay, onGiveUp: (r) => gaveUp.push(r), ...options },
      ),
    )
    return { calls, gaveUp }
  }

  it('never retries a 4xx, even when isRetryable says yes (429 included)', async () => {
    for (const statusCode of [400, 404, 409, 429]) {
      const r = await run(() => Object.assign(new Error('client error'), { statusCode }), { idempotent: true, isRetryable: () => true })
      assert.deepEqual(r, { calls: 1, gaveUp: ['client_error'] })
    }
    assert.equal(isClientError({ status: 422 }), true)
    assert.equal(isClientError({ statusCode: 503 }), false)
  })

  it('never retries a call that is not idempotent', async () => {
    assert.deepEqual(await run(upstream503, { idempotent: false }), { calls: 1, gaveUp: ['not_idempotent'] })
  })

  it('retries a call that is not idempotent only after errors proving the request never left (a refused connection)', async () => {
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3003'), { code: 'ECONNREFUSED' })
    const neverSent = (e: unknown) => (e as { code?: string }).code === 'ECONNREFUSED'
    assert.deepEqual(await run(refused, { idempotent: false, neverSent }), { calls: 3, gaveUp: ['max_attempts'] })
    assert.deepEqual(await run(upstream503, { idempotent: false, neverSent }), { calls: 1, gaveUp: ['not_idempotent'] })
    const reset = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
    assert.deepEqual(
      await run(reset, { idempotent: false, neverSent }),
      { calls: 1, gaveUp: ['not_idempotent'] },
      'a reset may come after the request was sent',
    )
  })

  it('stops at maxAttempts and rethrows the last error', async () => {
    assert.deepEqual(await run(upstream503, { idempotent: true }), { calls: 3, gaveUp: ['max_attempts'] })
    assert.deepEqual(await run(upstream503, { idempotent: true, maxAttempts: 5 }), { calls: 5, gaveUp: ['max_attempts'] })
  })

  it('does not retry errors isRetryable rejects', async () => {
    assert.deepEqual(await run(upstream503, { idempotent: true, isRetryable: () => false }), { calls: 1, gaveUp: ['not_retryable'] })
  })

  it('stops when the budget is spent', async () => {
    const empty = createRetryBudget({ ratio: 0.1, minPerSecond: 0, now: () => 0 })
    let calls = 0
    const gaveUp: RetryGiveUp[] = []
    await assert.rejects(
      retryWithBudget(
        async () => {
          calls++
          throw upstream503()
        },
        { budget: empty, idempotent: true, backoff: noDelay, onGiveUp: (r) => gaveUp.push(r) },
      ),
    )
    assert.deepEqual({ calls, gaveUp }, { calls: 1, gaveUp: ['budget_exhausted'] })
  })

  it('returns the first success, after waiting full-jitter delays that grow per attempt', async () => {
    const delays: number[] = []
    let calls = 0
    const value = await retryWithBudget(
      async (_signal, attempt) => {
        calls++
        if (attempt < 3) throw upstream503()
        return 'ok'
      },
      { budget: budget(), idempotent: true, backoff: { baseMs: 2, capMs: 100 }, random: () => 0.99, onRetry: (r) => delays.push(r.delayMs) },
    )
    assert.equal(value, 'ok')
    assert.equal(calls, 3)
    assert.deepEqual(delays, [1, 3]) // floor(0.99 * 2), floor(0.99 * 4)
  })

  describe('with mock timers', () => {
    afterEach(() => mock.timers.reset())

    it('stops retrying when the caller aborts during the backoff', async () => {
      mock.timers.enable({ apis: ['setTimeout'] })
      const ac = new AbortController()
      let calls = 0
      const pending = retryWithBudget(
        async () => {
          calls++
          throw upstream503()
        },
        { budget: budget(), idempotent: true, backoff: { baseMs: 1_000, capMs: 1_000 }, random: () => 0.5, signal: ac.signal },
      )
      await new Promise((r) => setImmediate(r))
      ac.abort(new Error('client went away'))
      await assert.rejects(pending, /client went away/)
      assert.equal(calls, 1)
    })

    it('gives up at the latency budget (timeoutMs) with DeadlineExceededError, aborting the attempt in flight', async () => {
      mock.timers.enable({ apis: ['setTimeout'] })
      let attemptSignal: AbortSignal | undefined
      const pending = retryWithBudget(
        (signal) => {
          attemptSignal = signal
          return new Promise<never>(() => {})
        },
        { budget: budget(), idempotent: true, timeoutMs: 250 },
      )
      mock.timers.tick(250)
      await assert.rejects(pending, DeadlineExceededError)
      assert.equal(attemptSignal?.aborted, true)
    })
  })
})

describe('withTimeout (cockatiel TimeoutPolicy, aggressive)', () => {
  afterEach(() => mock.timers.reset())

  it('answers DeadlineExceededError at the deadline even if fn ignores its signal, and aborts that signal', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    let seen: AbortSignal | undefined
    const pending = withTimeout((signal) => {
      seen = signal
      return new Promise<never>(() => {})
    }, 100)
    mock.timers.tick(99)
    assert.equal(seen?.aborted, false)
    mock.timers.tick(1)
    const error = await pending.catch((e: unknown) => e)
    assert.ok(error instanceof DeadlineExceededError)
    assert.equal(error.code, 'DEADLINE_EXCEEDED')
    assert.equal(error.timeoutMs, 100)
    assert.equal(seen?.aborted, true)
  })

  it('returns the value of a call that beats the deadline', async () => {
    assert.equal(await withTimeout(async () => 42, 1_000), 42)
  })

  it('rethrows the parent signal’s reason when the caller aborts first', async () => {
    const ac = new AbortController()
    const pending = withTimeout(() => new Promise<never>(() => {}), 60_000, ac.signal)
    ac.abort(new Error('shutting down'))
    await assert.rejects(pending, /shutting down/)
  })
})
