/**
 * Fault flags on a real service shape (serviceDefaults + authentication + one route), two instances sharing
 * a real Redis: only an admin sets them, bad input changes nothing, every instance applies them, and they
 * switch themselves off.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import { authentication, createTokenIssuer, createTokenVerifier, generateSigningKeys, type TokenIssuer } from '@flashsale/auth'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { faultFlags } from '../src/index.ts'

describe('fault flags on two instances of a service (real Redis)', () => {
  let redis: TestRedis
  let issuer: TokenIssuer
  const apps: FastifyInstance[] = []
  let admin = ''
  let buyer = ''
  let keys: Awaited<ReturnType<typeof generateSigningKeys>>
  /** POST /reservations handled, on any instance. */
  let handled = 0

  async function instance(): Promise<FastifyInstance> {
    const { logger } = createLogger({ service: 'faults-test', level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) })
    const metrics = createProcessMetrics({ service: 'faults-test' })
    const app = Fastify(serviceFastifyOptions(logger))
    await app.register(serviceDefaults, { metrics })
    await app.register(authentication, { verifier: await createTokenVerifier(keys.publicJwk) })
    await app.register(faultFlags, { service: 'svc', redis: redis.redis, registry: metrics.registry, refreshMs: 100 })
    app.post('/reservations', async () => {
      handled++
      return { ok: true }
    })
    app.get('/products', async () => ({ ok: true }))
    app.addHook('onClose', async () => metrics.stop())
    await app.ready()
    apps.push(app)
    return app
  }

  before(async () => {
    redis = await createTestRedis('faults')
    keys = await generateSigningKeys()
    issuer = await createTokenIssuer(keys.privateJwk)
    admin = await issuer.issue({ userId: 'ops', roles: ['admin'] })
    buyer = await issuer.issue({ userId: 'b1', roles: ['buyer'] })
    await instance()
    await instance()
  })
  after(async () => {
    for (const app of apps) await app.close()
    await redis.cleanup()
  })

  const put = (app: FastifyInstance, name: string, payload: unknown, token?: string) =>
    app.inject({ method: 'PUT', url: `/admin/faults/${name}`, payload: payload as object, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) })

  it('only an admin sets a flag: no token 401, a buyer 403; nothing is stored', async () => {
    const [a] = apps as [FastifyInstance]
    assert.equal((await put(a, 'x', { kind: 'error', durationSeconds: 10 })).statusCode, 401)
    assert.equal((await put(a, 'x', { kind: 'error', durationSeconds: 10 }, buyer)).statusCode, 403)
    assert.deepEqual(await redis.redis.hgetall('faults:svc'), {})
  })

  it('bad input is a 400 problem naming the field, and stores nothing', async () => {
    const [a] = apps as [FastifyInstance]
    for (const [name, body] of [
      ['ok', { kind: 'explode', durationSeconds: 10 }],
      ['ok', { kind: 'error', rate: 1.5, durationSeconds: 10 }],
      ['ok', { kind: 'error', durationSeconds: 0 }],
      ['ok', { kind: 'error', durationSeconds: 10, status: 404 }],
      ['ok', { kind: 'latency', ms: 5, durationSeconds: 10, route: 'FETCH /x' }],
      ['BAD NAME', { kind: 'error', durationSeconds: 10 }],
    ] as const) {
      const res = await put(a, name, body, admin)
      assert.equal(res.statusCode, 400, `${name} ${JSON.stringify(body)}: ${res.body}`)
      assert.equal(res.json().code, 'VALIDATION_FAILED')
    }
    assert.deepEqual(await redis.redis.hgetall('faults:svc'), {})
  })

  it('an error flag set on one instance fails its route on both; other routes and health are untouched; it ends by itself', async () => {
    const [a, b] = apps as [FastifyInstance, FastifyInstance]
    const set = await put(a, 'inv-500', { kind: 'error', status: 503, route: 'POST /reservations', durationSeconds: 1 }, admin)
    assert.equal(set.statusCode, 200, set.body)
    await sleep(250) // the other instance re-reads every 100 ms here
    for (const app of [a, b]) {
      const res = await app.inject({ method: 'POST', url: '/reservations' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'FAULT_INJECTED')
      assert.equal((await app.inject({ method: 'GET', url: '/products' })).statusCode, 200)
      assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
    }
    const listed = await a.inject({ method: 'GET', url: '/admin/faults', headers: { authorization: `Bearer ${admin}` } })
    assert.equal(listed.json().flags['inv-500'].setBy, 'ops')
    assert.match((await b.inject({ method: 'GET', url: '/metrics' })).body, /fault_flags_active\{[^}]*flag="inv-500"[^}]*\} 1/)
    await sleep(1_100)
    for (const app of [a, b]) assert.equal((await app.inject({ method: 'POST', url: '/reservations' })).statusCode, 200, 'expired: off by itself')
    await sleep(150)
    assert.deepEqual(await redis.redis.hgetall('faults:svc'), {}, 'and removed from the store')
  })

  it('latency delays the route; unready turns readiness to 503; DELETE ends a flag at once', async () => {
    const [a] = apps as [FastifyInstance]
    assert.equal((await put(a, 'slow', { kind: 'latency', ms: 200, route: 'GET /products', durationSeconds: 30 }, admin)).statusCode, 200)
    const t = performance.now()
    assert.equal((await a.inject({ method: 'GET', url: '/products' })).statusCode, 200)
    assert.ok(performance.now() - t >= 190, 'the answer waited the added latency')
    assert.equal((await put(a, 'out', { kind: 'unready', durationSeconds: 30 }, admin)).statusCode, 200)
    assert.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503)
    for (const name of ['slow', 'out'])
      assert.equal((await a.inject({ method: 'DELETE', url: `/admin/faults/${name}`, headers: { authorization: `Bearer ${admin}` } })).statusCode, 204)
    assert.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  })

  it('hang: its route gets no answer, the caller times out and its request is never handled late; other routes answer; off by itself', async () => {
    const [a] = apps as [FastifyInstance]
    const url = await a.listen({ host: '127.0.0.1', port: 0 })
    assert.equal((await put(a, 'stuck', { kind: 'hang', route: 'POST /reservations', durationSeconds: 2 }, admin)).statusCode, 200)
    const before = handled
    await assert.rejects(
      request(`${url}/reservations`, { method: 'POST', signal: AbortSignal.timeout(300) }),
      { name: 'TimeoutError' },
      'no answer before the caller gives up',
    )
    assert.equal((await request(`${url}/products`, { signal: AbortSignal.timeout(1_000) })).statusCode, 200, 'other routes answer')
    const metrics = await (await request(`${url}/metrics`)).body.text()
    assert.match(metrics, /fault_injections_total\{[^}]*kind="hang"[^}]*\} 1/)
    await sleep(2_200) // the flag has ended
    assert.equal(handled, before, 'the request whose caller left was dropped, not handled when the hang ended')
    const res = await request(`${url}/reservations`, { method: 'POST', signal: AbortSignal.timeout(1_000) })
    assert.equal(res.statusCode, 200, 'off by itself')
    await res.body.dump()
    assert.equal(handled, before + 1)
  })

  it('hang: a request still waiting when the flag is removed is then handled', async () => {
    const [a] = apps as [FastifyInstance]
    assert.equal((await put(a, 'stuck2', { kind: 'hang', route: 'POST /reservations', durationSeconds: 60 }, admin)).statusCode, 200)
    const t = performance.now()
    const waiting = a.inject({ method: 'POST', url: '/reservations' })
    await sleep(300)
    const del = await a.inject({ method: 'DELETE', url: '/admin/faults/stuck2', headers: { authorization: `Bearer ${admin}` } })
    assert.equal(del.statusCode, 204)
    assert.equal((await waiting).statusCode, 200)
    assert.ok(performance.now() - t < 30_000, 'answered after the removal, not at the end of the 60 s flag')
  })
})
