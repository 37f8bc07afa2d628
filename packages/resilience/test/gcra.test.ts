import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTestProxy, createTestRedis, type TestProxy, type TestRedis } from '@flashsale/testkit'
import { Redis } from 'ioredis'
import {
  chainOf,
  createFallbackChain,
  createFallbackLimiter,
  createGcraChain,
  createGcraLimiter,
  createLocalLimiter,
  formatRateLimitPolicy,
  rateLimitHeaders,
  type RateLimitResult,
} from '../src/index.ts'

describe('GCRA rate limiter on real Redis (one Lua script per check)', () => {
  let t: TestRedis
  before(async () => {
    t = await createTestRedis('gcra')
  })
  after(() => t.cleanup())

  it('replays redis-cell’s own table of cases exactly (limit 5 = burst 4 + 1, 1 per second, fixed clock)', async () => {
    const start = 1_700_000_000_000
    let now = start
    const limiter = createGcraLimiter(t.redis, { name: 'cell', ratePerPeriod: 1, periodMs: 1_000, burst: 4, now: () => now })
    // [ms after start, cost, remaining, resetAfterMs, retryAfterMs, allowed] — redis-cell-impl/src/lib.rs it_rate_limits;
    // redis-cell says retry_after -1 when allowed (we say 0) and when the cost can never fit (we say a full reset, 5 s).
    const cases: [number, number, number, number, number, boolean][] = [
      [0, 6, 5, 0, 5_000, false],
      [0, 1, 4, 1_000, 0, true],
      [0, 1, 3, 2_000, 0, true],
      [0, 1, 2, 3_000, 0, true],
      [0, 1, 1, 4_000, 0, true],
      [0, 1, 0, 5_000, 0, true],
      [0, 1, 0, 5_000, 1_000, false],
      [3_000, 1, 2, 3_000, 0, true],
      [3_100, 1, 1, 3_900, 0, true],
      [4_000, 1, 1, 4_000, 0, true],
      [8_000, 1, 4, 1_000, 0, true],
      [9_500, 1, 4, 1_000, 0, true],
      [9_500, 0, 4, 1_000, 0, true],
      [9_500, 2, 2, 3_000, 0, true],
      [9_500, 5, 2, 3_000, 3_000, false],
    ]
    for (const [i, [at, cost, remaining, resetAfterMs, retryAfterMs, allowed]] of cases.entries()) {
      now = start + at
      const r = await limiter.check('k', cost)
      assert.deepEqual(
        { allowed: r.allowed, remaining: r.remaining, resetAfterMs: r.resetAfterMs, retryAfterMs: r.retryAfterMs, limit: r.limit },
        { allowed, remaining, resetAfterMs, retryAfterMs, limit: 5 },
        `case ${i}`,
      )
    }
  })

  it('under 100 concurrent checks allows exactly burst + 1 (Redis TIME clock, rate too slow to refill meanwhile)', async () => {
    const limiter = createGcraLimiter(t.redis, { name: 'conc', ratePerPeriod: 1, periodMs: 60_000, burst: 10 })
    const results = await Promise.all(Array.from({ length: 100 }, () => limiter.check('one-user')))
    const allowed = results.filter((r) => r.allowed)
    assert.equal(allowed.length, 11)
    assert.deepEqual(
      allowed.map((r) => r.remaining).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    )
    for (const r of results.filter((x) => !x.allowed)) {
      assert.equal(r.remaining, 0)
      assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= 60_000, `retryAfterMs ${r.retryAfterMs}`)
    }
    // Different subjects do not share a budget.
    assert.equal((await limiter.check('another-user')).allowed, true)
  })

  it('stores the TAT with a PX TTL that ends when the subject is back to a full burst', async () => {
    const limiter = createGcraLimiter(t.redis, { name: 'ttl', ratePerPeriod: 1, periodMs: 10_000, burst: 2 })
    await limiter.check('u')
    const second = await limiter.check('u')
    const pttl = await t.redis.pttl('rl:ttl:u')
    assert.ok(pttl > 19_000 && pttl <= 20_000, `pttl ${pttl}`)
    assert.ok(Math.abs(second.resetAfterMs - 20_000) < 1_000, `resetAfterMs ${second.resetAfterMs}`)
  })

  it('a refused check says how long to wait, and after that wait the next check is allowed (refill)', async () => {
    const limiter = createGcraLimiter(t.redis, { name: 'refill', ratePerPeriod: 20, periodMs: 1_000, burst: 0 }) // T = 50 ms
    assert.equal((await limiter.check('u')).allowed, true)
    const refused = await limiter.check('u')
    assert.equal(refused.allowed, false)
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 50, `retryAfterMs ${refused.retryAfterMs}`)
    await sleep(Math.ceil(refused.retryAfterMs) + 2)
    const again = await limiter.check('u')
    assert.equal(again.allowed, true, `still refused ${again.retryAfterMs} ms after the advertised wait`)
  })

  it('formats RateLimit-Policy, RateLimit and Retry-After (IETF draft -10; Retry-After never earlier than t)', async () => {
    let now = 1_700_000_000_000
    const policy = { name: 'per-ip', ratePerPeriod: 1, periodMs: 60_000, burst: 10 }
    const limiter = createGcraLimiter(t.redis, { ...policy, now: () => now })
    assert.equal(formatRateLimitPolicy(policy), '"per-ip";q=11;w=660')

    const first = await limiter.check('1.2.3.4')
    assert.deepEqual(rateLimitHeaders(policy, first), { 'RateLimit-Policy': '"per-ip";q=11;w=660', RateLimit: '"per-ip";r=10;t=60' })

    let last: RateLimitResult = first
    for (let i = 0; i < 10; i++) last = await limiter.check('1.2.3.4')
    assert.equal(rateLimitHeaders(policy, last).RateLimit, '"per-ip";r=0;t=60')

    now += 30_500
    const refused = await limiter.check('1.2.3.4')
    assert.equal(refused.allowed, false)
    assert.deepEqual(rateLimitHeaders(policy, refused), {
      'RateLimit-Policy': '"per-ip";q=11;w=660',
      RateLimit: '"per-ip";r=0;t=30',
      'Retry-After': '30', // 29.5 s rounded up
    })
  })
})

describe('GCRA chain: per-IP then per-user in ONE script call (ADR 0022)', () => {
  let t: TestRedis
  before(async () => {
    t = await createTestRedis('gcra_chain')
  })
  after(() => t.cleanup())

  const ip = { name: 'ip', ratePerPeriod: 2, periodMs: 1_000, burst: 3 }
  const user = { name: 'user', ratePerPeriod: 1, periodMs: 1_000, burst: 1 }

  it('gives the same answers, stored values and TTLs as the two limiters checked one after the other (fixed clock)', async () => {
    let now = 1_700_000_000_000
    const clock = () => now
    const chain = createGcraChain(t.redis, [ip, user], { keyPrefix: 'chain:', now: clock })
    const separateIp = createGcraLimiter(t.redis, { ...ip, keyPrefix: 'sep:', now: clock })
    const separateUser = createGcraLimiter(t.redis, { ...user, keyPrefix: 'sep:', now: clock })
    // Requests at these offsets (ms); some with a user, one with cost 2 on the IP.
    const steps: [number, number, string | undefined][] = [
      [0, 1, 'u1'],
      [0, 1, 'u1'],
      [0, 1, 'u1'],
      [0, 1, undefined],
      [0, 1, 'u2'],
      [100, 1, 'u2'],
      [600, 2, 'u1'],
      [1_100, 1, 'u1'],
      [1_600, 1, undefined],
      [2_500, 1, 'u1'],
      [9_000, 1, 'u1'],
    ]
    for (const [at, cost, userId] of steps) {
      now = 1_700_000_000_000 + at
      const verdicts = await chain.check([{ key: '1.2.3.4', cost }, userId ? { key: userId } : undefined])
      const expected = []
      const r1 = await separateIp.check('1.2.3.4', cost)
      expected.push({ index: 0, policy: ip, result: r1 })
      if (r1.allowed && userId) expected.push({ index: 1, policy: user, result: await separateUser.check(userId) })
      assert.deepEqual(verdicts, expected, `at +${at} ms, cost ${cost}, user ${userId}`)
    }
    for (const key of ['ip:1.2.3.4', 'user:u1', 'user:u2']) {
      assert.equal(await t.redis.get(`chain:${key}`), await t.redis.get(`sep:${key}`), key)
      assert.ok(Math.abs((await t.redis.pttl(`chain:${key}`)) - (await t.redis.pttl(`sep:${key}`))) < 50, key)
    }
  })

  it('a refusal by the first policy ends the chain: the second key is not touched', async () => {
    const chain = createGcraChain(t.redis, [{ ...ip, burst: 0 }, user], { keyPrefix: 'stop:' })
    const [first] = await chain.check([{ key: 'a' }, { key: 'u' }]).then((v) => v.slice(0, 1))
    assert.equal(first?.result.allowed, true)
    await t.redis.del('stop:user:u')
    const refused = await chain.check([{ key: 'a' }, { key: 'u' }])
    assert.deepEqual(
      refused.map((v) => [v.index, v.result.allowed]),
      [[0, false]],
    )
    assert.equal(await t.redis.exists('stop:user:u'), 0)
  })

  for (const batch of [false, true])
    it(`under 100 concurrent requests keeps the exact allowance of each policy (Redis TIME clock${batch ? ', batched' : ''})`, async () => {
      // Per user: burst 4 → exactly 5 allowed. Per IP: burst 99 → every request passes it and spends one unit,
      // as separate checks would (the per-IP check comes first), so the IP ends exactly empty.
      const chain = createGcraChain(
        t.redis,
        [
          { name: 'ip', ratePerPeriod: 1, periodMs: 600_000, burst: 99 },
          { name: 'user', ratePerPeriod: 1, periodMs: 600_000, burst: 4 },
        ],
        { keyPrefix: `conc${batch}:`, batch },
      )
      const verdicts = await Promise.all(Array.from({ length: 100 }, () => chain.check([{ key: '10.0.0.1' }, { key: 'buyer' }])))
      const allowed = verdicts.filter((v) => v.every((x) => x.result.allowed))
      assert.equal(allowed.length, 5)
      assert.deepEqual(
        verdicts.map((v) => v.length),
        Array(100).fill(2),
        'the per-IP check never refused, so both were checked',
      )
      assert.deepEqual(
        allowed.map((v) => v[1]!.result.remaining).sort((a, b) => a - b),
        [0, 1, 2, 3, 4],
      )
      const probe = await chain.check([{ key: '10.0.0.1', cost: 0 }, undefined])
      assert.equal(probe[0]?.result.remaining, 0, 'the per-IP budget of 100 was spent exactly once per request')
      // With the IP tighter than the user: exactly burst + 1 of the IP, and the user spent only by those.
      const tight = createGcraChain(
        t.redis,
        [
          { name: 'ip', ratePerPeriod: 1, periodMs: 600_000, burst: 6 },
          { name: 'user', ratePerPeriod: 1, periodMs: 600_000, burst: 49 },
        ],
        { keyPrefix: `conc2${batch}:`, batch },
      )
      const second = await Promise.all(Array.from({ length: 100 }, () => tight.check([{ key: '10.0.0.2' }, { key: 'buyer' }])))
      assert.equal(second.filter((v) => v.length === 2 && v.every((x) => x.result.allowed)).length, 7)
      const userLeft = await tight.check([undefined, { key: 'buyer', cost: 0 }])
      assert.equal(userLeft[0]?.result.remaining, 50 - 7)
    })

  it('batch: the checks of one event-loop turn go to Redis as ONE script call, each answered as if alone', async () => {
    const policies = [
      { name: 'ip', ratePerPeriod: 1, periodMs: 600_000, burst: 2 },
      { name: 'user', ratePerPeriod: 1, periodMs: 600_000, burst: 0 },
    ]
    createGcraChain(t.redis, policies) // defines the script command on this client
    const redis = t.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    const command = Object.keys(redis).find((k) => k.startsWith('flashsaleGcra')) ?? 'flashsaleGcraBatch'
    const original = redis[command]!
    let calls = 0
    redis[command] = function (this: unknown, ...args: unknown[]) {
      calls++
      return original.apply(this, args)
    }
    try {
      const chain = createGcraChain(t.redis, policies, { keyPrefix: 'batch:', batch: true })
      // Four requests from one address: users a, a, b, (anonymous); the IP allows 3.
      const verdicts = await Promise.all([
        chain.check([{ key: '10.9.9.9' }, { key: 'a' }]),
        chain.check([{ key: '10.9.9.9' }, { key: 'a' }]),
        chain.check([{ key: '10.9.9.9' }, { key: 'b' }]),
        chain.check([{ key: '10.9.9.9' }, undefined]),
      ])
      assert.equal(calls, 1, 'one script call for the four checks')
      assert.deepEqual(
        verdicts.map((v) => v.map((x) => [x.index, x.result.allowed])),
        [
          [
            [0, true],
            [1, true],
          ],
          [
            [0, true],
            [1, false],
          ], // user a has no burst: refused by the per-user policy
          [
            [0, true],
            [1, true],
          ],
          [[0, false]], // the IP's 3 were spent, in arrival order
        ],
      )
      assert.equal(verdicts[2]![0]!.result.remaining, 0)
      // Later turns are later batches.
      await chain.check([{ key: 'elsewhere' }, undefined])
      assert.equal(calls, 2)
    } finally {
      redis[command] = original
    }
  })

  it('refuses a bad cost before any round trip, and an empty chain makes none', async () => {
    const chain = createGcraChain(t.redis, [ip, user], { keyPrefix: 'bad:' })
    await assert.rejects(chain.check([{ key: 'a', cost: 1.5 }]), RangeError)
    assert.deepEqual(await chain.check([undefined, undefined]), [])
  })
})

describe('local token-bucket limiter (the in-process fallback)', () => {
  it('agrees with GCRA: burst + 1 at once, then one per period/rate', async () => {
    let now = 0
    const local = createLocalLimiter({ name: 'l', ratePerPeriod: 1, periodMs: 1_000, burst: 4, now: () => now })
    const first = await Promise.all([1, 2, 3, 4, 5, 6].map(() => local.check('k')))
    assert.deepEqual(
      first.map((r) => r.allowed),
      [true, true, true, true, true, false],
    )
    assert.deepEqual(
      first.map((r) => r.remaining),
      [4, 3, 2, 1, 0, 0],
    )
    assert.equal(first[5]!.retryAfterMs, 1_000)
    assert.equal(first[0]!.resetAfterMs, 1_000)
    now = 3_000
    assert.equal((await local.check('k')).remaining, 2) // redis-cell case 7
  })

  it('forgets the least recently used subject beyond maxKeys', async () => {
    const local = createLocalLimiter({ name: 'l', ratePerPeriod: 1, periodMs: 60_000, burst: 0, maxKeys: 2, now: () => 0 })
    await local.check('a')
    await local.check('b')
    assert.equal((await local.check('a')).allowed, false) // 'a' is now the most recent
    await local.check('c') // evicts 'b', the least recently used
    assert.equal((await local.check('b')).allowed, true, "'b' was forgotten: a full bucket again")
    assert.equal((await local.check('c')).allowed, false, "'c' is still remembered")
  })
})

describe('fallback limiter: Redis down → local limiter (fail open, still limited)', () => {
  let t: TestRedis
  let proxy: TestProxy
  let viaProxy: Redis
  before(async () => {
    t = await createTestRedis('gcra_fallback')
    proxy = await createTestProxy('gcra_fallback', t.url)
    viaProxy = new Redis(proxy.rewrite(t.url), { keyPrefix: t.prefix, maxRetriesPerRequest: 1 })
    viaProxy.on('error', () => {}) // connection refused while the proxy is disabled: expected here
  })
  after(async () => {
    viaProxy.disconnect()
    await proxy.cleanup()
    await t.cleanup()
  })

  it('answers from the local limiter while Redis is unreachable, and goes back to Redis when it returns', async () => {
    const policy = { name: 'fb', ratePerPeriod: 1, periodMs: 60_000, burst: 2 }
    const errors: unknown[] = []
    const limiter = createFallbackLimiter(createGcraLimiter(viaProxy, policy), createLocalLimiter(policy), {
      timeoutMs: 200,
      retryPrimaryAfterMs: 200,
      onPrimaryError: (e) => errors.push(e),
    })
    const before = await limiter.check('u')
    assert.deepEqual([before.source, before.allowed], ['redis', true])

    await proxy.disable()
    const during = []
    for (let i = 0; i < 4; i++) during.push(await limiter.check('u'))
    assert.deepEqual(
      during.map((r) => r.source),
      ['local', 'local', 'local', 'local'],
    )
    assert.deepEqual(
      during.map((r) => r.allowed),
      [true, true, true, false],
      'the local bucket still limits: burst + 1, then refuse',
    )
    assert.ok(errors.length >= 1, 'the outage was reported')

    await proxy.enable()
    let result: RateLimitResult | undefined
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
      result = await limiter.check('u')
      if (result.source === 'redis') break
    }
    assert.equal(result?.source, 'redis')
    // Redis kept its count: 1 before the outage + this one of 3 leaves at most 1 (a check that timed out
    // during the outage may still have run once the connection came back, counting against the subject).
    assert.ok(result!.remaining <= 1, `remaining ${result?.remaining}`)
  })
})

describe('fallback chain: Redis down → the local chain (ADR 0013 for the one-call chain)', () => {
  let t: TestRedis
  let proxy: TestProxy
  let viaProxy: Redis
  before(async () => {
    t = await createTestRedis('gcra_fallback_chain')
    proxy = await createTestProxy('gcra_fallback_chain', t.url)
    viaProxy = new Redis(proxy.rewrite(t.url), { keyPrefix: t.prefix, maxRetriesPerRequest: 1 })
    viaProxy.on('error', () => {})
  })
  after(async () => {
    viaProxy.disconnect()
    await proxy.cleanup()
    await t.cleanup()
  })

  it('answers from the local limiters while Redis is unreachable, still in order and still limited', async () => {
    const ipPolicy = { name: 'ip', ratePerPeriod: 1, periodMs: 60_000, burst: 9 }
    const userPolicy = { name: 'user', ratePerPeriod: 1, periodMs: 60_000, burst: 1 }
    const errors: unknown[] = []
    const chain = createFallbackChain(
      createGcraChain(viaProxy, [ipPolicy, userPolicy]),
      chainOf([createLocalLimiter(ipPolicy), createLocalLimiter(userPolicy)]),
      { timeoutMs: 200, retryPrimaryAfterMs: 200, onPrimaryError: (e) => errors.push(e) },
    )
    const before = await chain.check([{ key: 'ip' }, { key: 'u' }])
    assert.deepEqual(
      before.map((v) => [v.result.source, v.result.allowed]),
      [
        ['redis', true],
        ['redis', true],
      ],
    )

    await proxy.disable()
    const during = []
    for (let i = 0; i < 3; i++) during.push(await chain.check([{ key: 'ip' }, { key: 'u' }]))
    assert.deepEqual(
      during.map((v) => v.map((x) => x.result.source)),
      [
        ['local', 'local'],
        ['local', 'local'],
        ['local', 'local'],
      ],
    )
    assert.deepEqual(
      during.map((v) => v.at(-1)!.result.allowed),
      [true, true, false],
      'the local per-user bucket: burst + 1, then refuse',
    )
    assert.ok(errors.length >= 1, 'the outage was reported')
    await proxy.enable()
  })
})
