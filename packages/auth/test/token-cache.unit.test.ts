import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InvalidTokenError, createTokenIssuer, createTokenVerifier, generateSigningKeys, type Principal, type TokenVerifier } from '../src/index.ts'
import { createCachingVerifier, tokenExpiryMs } from '../src/token-cache.ts'

const T0 = 1_700_000_000_000

/** A JWT-shaped string with this payload (the counting verifier below decides validity, not a signature). */
const fakeToken = (payload: object, sig = 'sig') => `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`

function countingVerifier(valid: (token: string) => boolean): TokenVerifier & { calls: number } {
  const v = {
    calls: 0,
    async verify(token: string): Promise<Principal> {
      v.calls++
      if (!valid(token)) throw new InvalidTokenError('signature did not verify')
      return { userId: 'buyer-1', roles: ['buyer'] }
    },
  }
  return v
}

describe('verified-token cache (ADR 0022)', () => {
  test('a token verified once is answered from the cache until its exp, then verified again', async () => {
    let now = T0
    const inner = countingVerifier(() => true)
    const results: string[] = []
    const cached = createCachingVerifier(inner, { maxEntries: 100, maxTtlMs: 3_600_000, now: () => now, onResult: (r) => results.push(r) })
    const token = fakeToken({ sub: 'buyer-1', exp: T0 / 1000 + 60 })
    for (let i = 0; i < 5; i++) assert.deepEqual(await cached.verify(token), { userId: 'buyer-1', roles: ['buyer'] })
    assert.equal(inner.calls, 1)
    now = T0 + 59_999
    await cached.verify(token)
    assert.equal(inner.calls, 1, 'still before exp')
    now = T0 + 60_000
    await cached.verify(token)
    assert.equal(inner.calls, 2, 'at exp the cache no longer answers: the verifier decides again')
    assert.deepEqual(results, ['verified', 'hit', 'hit', 'hit', 'hit', 'hit', 'verified'])
  })

  test('revocation by expiry: once expired, the verifier refuses and the cache never brings the token back', async () => {
    let now = T0
    let expired = false
    const inner = countingVerifier(() => !expired)
    const cached = createCachingVerifier(inner, { maxEntries: 100, maxTtlMs: 3_600_000, now: () => now })
    const token = fakeToken({ sub: 'buyer-1', exp: T0 / 1000 + 10 })
    await cached.verify(token)
    now = T0 + 10_001
    expired = true
    await assert.rejects(cached.verify(token), InvalidTokenError)
    await assert.rejects(cached.verify(token), InvalidTokenError)
    assert.equal(inner.calls, 3)
    assert.equal(cached.size, 0)
  })

  test('maxTtlMs bounds reuse even for a long-lived token', async () => {
    let now = T0
    const inner = countingVerifier(() => true)
    const cached = createCachingVerifier(inner, { maxEntries: 100, maxTtlMs: 5_000, now: () => now })
    const token = fakeToken({ sub: 'buyer-1', exp: T0 / 1000 + 86_400 })
    await cached.verify(token)
    now = T0 + 4_999
    await cached.verify(token)
    assert.equal(inner.calls, 1)
    now = T0 + 5_000
    await cached.verify(token)
    assert.equal(inner.calls, 2)
  })

  test('failures are never cached; a token without exp, or already expired, is not kept', async () => {
    const inner = countingVerifier((t) => !t.endsWith('.forged'))
    const cached = createCachingVerifier(inner, { maxEntries: 100, maxTtlMs: 60_000, now: () => T0 })
    const forged = fakeToken({ sub: 'buyer-1', exp: T0 / 1000 + 60 }, 'forged')
    await assert.rejects(cached.verify(forged), InvalidTokenError)
    await assert.rejects(cached.verify(forged), InvalidTokenError)
    assert.equal(inner.calls, 2, 'a forged token costs a verify every time; it never enters the cache')
    await cached.verify(fakeToken({ sub: 'buyer-1' }))
    await cached.verify(fakeToken({ sub: 'buyer-1', exp: T0 / 1000 - 1 })) // the verifier's clock tolerance accepted it
    assert.equal(cached.size, 0)
  })

  test('a token differing in any byte (another signature) is a miss, and the cache is bounded (LRU)', async () => {
    const inner = countingVerifier(() => true)
    const cached = createCachingVerifier(inner, { maxEntries: 2, maxTtlMs: 60_000, now: () => T0 })
    const exp = T0 / 1000 + 60
    await cached.verify(fakeToken({ sub: 'a', exp }, 'one'))
    await cached.verify(fakeToken({ sub: 'a', exp }, 'two'))
    assert.equal(inner.calls, 2)
    await cached.verify(fakeToken({ sub: 'b', exp }))
    assert.equal(cached.size, 2)
    await cached.verify(fakeToken({ sub: 'a', exp }, 'one')) // evicted as the least recently used
    assert.equal(inner.calls, 4)
  })

  test('maxEntries 0 verifies every request', async () => {
    const inner = countingVerifier(() => true)
    const cached = createCachingVerifier(inner, { maxEntries: 0, maxTtlMs: 60_000 })
    const token = fakeToken({ sub: 'a', exp: Date.now() / 1000 + 60 })
    await cached.verify(token)
    await cached.verify(token)
    assert.equal(inner.calls, 2)
  })

  test('with the real ES256 verifier: same principal from the cache, a tampered token still refused', async () => {
    const { privateJwk, publicJwk } = await generateSigningKeys()
    const issuer = await createTokenIssuer(privateJwk)
    const cached = createCachingVerifier(await createTokenVerifier(publicJwk), { maxEntries: 10, maxTtlMs: 60_000 })
    const token = await issuer.issue({ userId: 'buyer-7', roles: ['buyer'] }, 60)
    const exp = tokenExpiryMs(token)!
    assert.ok(Math.abs(exp - (Date.now() + 60_000)) < 5_000, `exp ${exp}`)
    assert.deepEqual(await cached.verify(token), { userId: 'buyer-7', roles: ['buyer'] })
    assert.deepEqual(await cached.verify(token), { userId: 'buyer-7', roles: ['buyer'] })
    const [h, p, s] = token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin-1', roles: ['admin'] })).toString('base64url')}.${s}`
    await assert.rejects(cached.verify(tampered), InvalidTokenError)
  })
})
