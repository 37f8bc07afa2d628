/**
 * createServiceApp on real Redis: the shared defaults, the service's own token check and the fault flags,
 * in that order, on one Fastify instance a service adds its routes to.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys, type TokenIssuer } from '@flashsale/auth'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { createServiceApp } from '../src/index.ts'

describe('createServiceApp', () => {
  let redis: TestRedis
  let app: FastifyInstance
  let issuer: TokenIssuer
  before(async () => {
    redis = await createTestRedis('runtime_app')
    const keys = await generateSigningKeys()
    issuer = await createTokenIssuer(keys.privateJwk)
    app = await createServiceApp({
      service: 'probe',
      logger: createLogger({ service: 'probe', level: 'silent' }).logger,
      metrics: createProcessMetrics({ service: 'probe' }),
      verifier: await createTokenVerifier(keys.publicJwk),
      redis: redis.redis,
      openapi: { title: 'probe', description: 'a service made by createServiceApp' },
      dependencies: { redis: () => redis.redis.ping() },
    })
    app.get('/whoami', { onRequest: app.requireUser }, async (request) => ({ userId: request.user!.userId }))
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await redis?.cleanup()
  })

  test('health, dependencies and the OpenAPI document come with it', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
    const deps = await app.inject({ method: 'GET', url: '/health/deps' })
    assert.equal(deps.json().dependencies.redis.status, 'up')
    assert.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).json().info.title, 'probe')
  })

  test("a route added to it verifies the service's own tokens", async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/whoami' })).statusCode, 401)
    const token = await issuer.issue({ userId: 'u-1', roles: ['buyer'] })
    const me = await app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token}` } })
    assert.deepEqual(me.json(), { userId: 'u-1' })
  })

  test('the fault flags are there, for admins only, under the service name', async () => {
    const buyer = await issuer.issue({ userId: 'u-1', roles: ['buyer'] })
    assert.equal((await app.inject({ method: 'GET', url: '/admin/faults', headers: { authorization: `Bearer ${buyer}` } })).statusCode, 403)
    const admin = await issuer.issue({ userId: 'ops', roles: ['admin'] })
    const flags = await app.inject({ method: 'GET', url: '/admin/faults', headers: { authorization: `Bearer ${admin}` } })
    assert.equal(flags.statusCode, 200, flags.body)
  })
})
