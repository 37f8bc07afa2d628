/**
 * The service client against real HTTP servers on loopback (node:http; no server of the stack): balancing,
 * answers below 500 as answers, what counts against the breaker and what does not, retries, the budget.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { createServiceClient, ServiceUnavailable } from '../src/index.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void
const servers: Server[] = []
async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
/** A URL nothing listens on (a server started and closed). */
async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await new Promise((resolve) => server.close(resolve))
  return url
}
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers })
  res.end(JSON.stringify(body))
}
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))

const rejectsWith = async (p: Promise<unknown>, kind: string) => {
  const err = await p.then(
    () => assert.fail('expected a ServiceUnavailable'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof ServiceUnavailable, String(err))
  assert.equal(err.kind, kind, err.message)
  return err
}

describe('service client', () => {
  it('spreads calls over the instances and hands back 2xx and 4xx answers with their bodies', async () => {
    const seen: string[] = []
    const a = await serve((req, res) => (seen.push('a'), json(res, 200, { path: req.url, auth: req.headers.authorization })))
    const b = await serve((_req, res) => (seen.push('b'), json(res, 404, { code: 'X_ERR_NOT_FOUND', status: 404 })))
    const client = createServiceClient({ service: 'test', urls: [a, b], timeoutMs: 2_000 })
    const first = await client.get<{ path: string; auth: string }>('/things/1', { token: 't0k' })
    const second = await client.get<{ code: string }>('/things/2')
    assert.deepEqual(first.body, { path: '/things/1', auth: 'Bearer t0k' })
    assert.equal(first.status, 200)
    assert.equal(second.status, 404, 'a 4xx is an answer, not a failure')
    assert.equal(second.body.code, 'X_ERR_NOT_FOUND')
    assert.deepEqual(seen, ['a', 'b'])
    assert.equal(client.breaker.stats().failures, 0)
    await client.close()
  })

  it("a 500 is the callee's failure: counted, and enough of them open the circuit", async () => {
    const url = await serve((_req, res) => json(res, 500, { code: 'INTERNAL' }))
    const client = createServiceClient({
      service: 'test',
      urls: [url],
      timeoutMs: 2_000,
      maxAttempts: 1,
      breaker: { minimumCalls: 3, failureRateThreshold: 0.5 },
    })
    for (let i = 0; i < 3; i++) await rejectsWith(client.call('POST', '/x', { body: {} }), 'server_error')
    await rejectsWith(client.call('POST', '/x', { body: {} }), 'circuit_open')
    await client.close()
  })

  it('a 503 with Retry-After is a refusal: it says when to come back, is not retried, and never opens the circuit', async () => {
    let hits = 0
    const url = await serve((_req, res) => (hits++, json(res, 503, { code: 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE' }, { 'retry-after': '3' })))
    const client = createServiceClient({ service: 'test', urls: [url], timeoutMs: 2_000, breaker: { minimumCalls: 3, failureRateThreshold: 0.5 } })
    for (let i = 0; i < 6; i++) {
      const err = await rejectsWith(client.get('/y'), 'refused')
      assert.equal(err.retryAfterSeconds, 3)
    }
    assert.equal(hits, 6, 'one attempt each')
    assert.equal(client.breaker.state, 'closed')
    await client.close()
  })

  it('a GET goes to another instance when one is down; a POST too when the connection was refused (it was never sent)', async () => {
    const dead = await deadUrl()
    const live = await serve((req, res) => json(res, 200, { method: req.method }))
    const client = createServiceClient({ service: 'test', urls: [dead, live], timeoutMs: 2_000 })
    for (let i = 0; i < 4; i++) assert.equal((await client.get('/z')).status, 200)
    for (let i = 0; i < 4; i++) assert.deepEqual((await client.call('POST', '/z', { body: { i } })).body, { method: 'POST' })
    await client.close()
  })

  it('no answer within the budget is a timeout', async () => {
    const url = await serve(() => {}) // never answers
    const client = createServiceClient({ service: 'test', urls: [url], timeoutMs: 100 })
    await rejectsWith(client.call('POST', '/slow', { body: {} }), 'timeout')
    await client.close()
  })

  it("slowness is judged by the callee's own time (Server-Timing), not by the round trip", async () => {
    // Answers at once but says it spent 900 ms: slow by its own account.
    const url = await serve((_req, res) => json(res, 200, {}, { 'server-timing': 'app;dur=900' }))
    const client = createServiceClient({
      service: 'test',
      urls: [url],
      timeoutMs: 2_000,
      breaker: { minimumCalls: 4, slowCallMs: 500, slowCallRateThreshold: 0.5 },
    })
    for (let i = 0; i < 4; i++) await client.get('/self-reported-slow')
    await rejectsWith(client.get('/self-reported-slow'), 'circuit_open')
    await client.close()
  })
})
