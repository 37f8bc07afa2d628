import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import Fastify from 'fastify'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import {
  InvalidTokenError,
  authentication,
  createTokenIssuer,
  createTokenVerifier,
  generateSigningKeys,
  type TokenIssuer,
  type TokenVerifier,
} from '../src/index.ts'

let issuer: TokenIssuer
let verifier: TokenVerifier
let strangerIssuer: TokenIssuer

before(async () => {
  const keys = await generateSigningKeys()
  issuer = await createTokenIssuer(keys.privateJwk)
  verifier = await createTokenVerifier(keys.publicJwk)
  strangerIssuer = await createTokenIssuer((await generateSigningKeys()).privateJwk)
})

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')

describe('tokens', () => {
  it('a token issued for a user verifies to that user and roles', async () => {
    const token = await issuer.issue({ userId: 'user-42', roles: ['buyer'] })
    assert.deepEqual(await verifier.verify(token), { userId: 'user-42', roles: ['buyer'] })
  })

  it('rejects an expired token', async () => {
    const token = await issuer.issue({ userId: 'u1', roles: ['buyer'] }, -60)
    await assert.rejects(verifier.verify(token), (e: unknown) => e instanceof InvalidTokenError && /exp/.test(e.message))
  })

  it('rejects a token signed by another key (a forged user id)', async () => {
    const forged = await strangerIssuer.issue({ userId: 'admin', roles: ['admin'] })
    await assert.rejects(verifier.verify(forged), InvalidTokenError)
  })

  it('rejects an unsigned token (alg none) and a tampered payload', async () => {
    const none = `${b64({ alg: 'none' })}.${b64({ sub: 'u1', roles: ['admin'], iss: 'flashsale-gateway', aud: 'flashsale' })}.`
    await assert.rejects(verifier.verify(none), InvalidTokenError)
    const [h, , s] = (await issuer.issue({ userId: 'u1', roles: ['buyer'] })).split('.')
    const tampered = `${h}.${b64({ sub: 'u1', roles: ['admin'], iss: 'flashsale-gateway', aud: 'flashsale', exp: 9_999_999_999 })}.${s}`
    await assert.rejects(verifier.verify(tampered), InvalidTokenError)
  })

  it('rejects a token for another audience', async () => {
    const keys = await generateSigningKeys()
    const other = await createTokenIssuer(keys.privateJwk, { audience: 'someone-else' })
    const v = await createTokenVerifier(keys.publicJwk)
    await assert.rejects(v.verify(await other.issue({ userId: 'u1', roles: ['buyer'] })), /aud/)
  })

  it('refuses to issue a token for a user id that could not be a header-safe identifier', async () => {
    await assert.rejects(issuer.issue({ userId: 'a b\n', roles: [] }), InvalidTokenError)
  })
})

describe('authentication plugin', () => {
  const build = async () => {
    const metrics = createProcessMetrics({ service: 'test' })
    const app = Fastify(serviceFastifyOptions(createLogger({ service: 'test', destination: { write() {} } }).logger))
    await app.register(serviceDefaults, { metrics })
    await app.register(authentication, { verifier })
    app.get('/me', { onRequest: app.requireUser }, async (req) => req.user)
    app.post('/admin/sales', { onRequest: app.requireAdmin }, async () => ({ ok: true }))
    app.addHook('onClose', async () => metrics.stop())
    return app
  }

  it('without a token: 401 problem+json with WWW-Authenticate: Bearer', async () => {
    const app = await build()
    const res = await app.inject('/me')
    await app.close()
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="flashsale"')
    assert.equal(res.json().code, 'AUTH_ERR_UNAUTHENTICATED')
    assert.match(res.headers['content-type'] ?? '', /problem\+json/)
  })

  it('with a malformed header or a forged token: 401 naming the reason', async () => {
    const app = await build()
    const malformed = await app.inject({ url: '/me', headers: { authorization: 'Basic dXNlcjpwdw==' } })
    const forged = await app.inject({ url: '/me', headers: { authorization: `Bearer ${await strangerIssuer.issue({ userId: 'u9', roles: ['admin'] })}` } })
    await app.close()
    assert.equal(malformed.statusCode, 401)
    assert.match(malformed.json().title, /not "Bearer <jwt>"/)
    assert.equal(forged.statusCode, 401)
    assert.match(forged.json().title, /signature/)
  })

  it('with a valid token: the route sees the verified user', async () => {
    const app = await build()
    const res = await app.inject({ url: '/me', headers: { authorization: `Bearer ${await issuer.issue({ userId: 'user-7', roles: ['buyer'] })}` } })
    await app.close()
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { userId: 'user-7', roles: ['buyer'] })
  })

  it('the Bearer scheme is case-insensitive (RFC 9110 §11.1)', async () => {
    const app = await build()
    const token = await issuer.issue({ userId: 'user-8', roles: ['buyer'] })
    try {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        const res = await app.inject({ url: '/me', headers: { authorization: `${scheme} ${token}` } })
        assert.equal(res.statusCode, 200, `${scheme}: ${res.body}`)
      }
    } finally {
      await app.close()
    }
  })

  it('an admin route answers 403 to a buyer and 200 to an admin', async () => {
    const app = await build()
    const buyer = await app.inject({
      method: 'POST',
      url: '/admin/sales',
      headers: { authorization: `Bearer ${await issuer.issue({ userId: 'b', roles: ['buyer'] })}` },
    })
    const admin = await app.inject({
      method: 'POST',
      url: '/admin/sales',
      headers: { authorization: `Bearer ${await issuer.issue({ userId: 'a', roles: ['admin'] })}` },
    })
    await app.close()
    assert.equal(buyer.statusCode, 403)
    assert.equal(buyer.json().code, 'AUTH_ERR_FORBIDDEN')
    assert.equal(admin.statusCode, 200)
  })
})
