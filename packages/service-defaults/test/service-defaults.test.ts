import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { createTestDatabase, freePort, type TestDatabase } from '@flashsale/testkit'
import {
  PROBLEM_CONTENT_TYPE,
  defineError,
  serverTimingDuration,
  serviceDefaults,
  serviceFastifyOptions,
  startServer,
  type ReadinessCheck,
} from '../src/index.ts'

const SoldOut = defineError('TEST_ERR_SOLD_OUT', 409, 'SKU %s is sold out')
const QueueDown = defineError('TEST_ERR_QUEUE_UNAVAILABLE', 503, 'Orders cannot be queued right now')
const Busy = defineError('TEST_ERR_BUSY', 503, 'Busy right now', { retryAfterSeconds: 3 })

function logSink() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _e, done) {
      for (const l of String(chunk).trim().split('\n')) lines.push(JSON.parse(l))
      done()
    },
  })
  return { lines, stream }
}

async function buildApp(readiness: Record<string, ReadinessCheck> = {}, dependencies: Record<string, ReadinessCheck> = {}) {
  const sink = logSink()
  const { logger } = createLogger({ service: 'test', destination: sink.stream })
  const metrics = createProcessMetrics({ service: 'test' })
  const app = Fastify(serviceFastifyOptions(logger))
  await app.register(serviceDefaults, { metrics, readiness, dependencies, readinessTimeoutMs: 200 })
  app.post(
    '/orders',
    {
      schema: {
        body: {
          type: 'object',
          required: ['sku', 'qty'],
          additionalProperties: false,
          properties: { sku: { type: 'string', minLength: 1 }, qty: { type: 'integer', minimum: 1, maximum: 5 } },
        },
      },
    },
    async (req) => {
      const { sku } = req.body as { sku: string }
      if (sku === 'gone') throw new SoldOut(sku)
      if (sku === 'queue') {
        const err = new QueueDown()
        err.retryAfterSeconds = 2
        throw err
      }
      if (sku === 'busy') throw new Busy()
      if (sku === 'busier') throw Object.assign(new Busy(), { retryAfterSeconds: 7 })
      if (sku === 'bug') throw new Error('secret internal detail: connection string postgres://x')
      if (sku === 'db-down') {
        // What a real PostgreSQL pool throws when its server is gone.
        const pool = new pg.Pool({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/z` })
        try {
          await pool.query('SELECT 1')
        } finally {
          await pool.end()
        }
      }
      return { ok: true }
    },
  )
  app.addHook('onClose', async () => metrics.stop())
  return { app, logs: sink.lines }
}

describe('problem+json errors (RFC 9457)', () => {
  let app: FastifyInstance
  let logs: Record<string, unknown>[]
  before(async () => ({ app, logs } = await buildApp()))
  after(() => app.close())

  it('when the body fails its schema, answers 400 VALIDATION_FAILED naming the field', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'a', qty: 99 } })
    assert.equal(res.statusCode, 400)
    assert.equal(res.headers['content-type'], `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
    const body = res.json()
    assert.equal(body.code, 'VALIDATION_FAILED')
    assert.equal(body.status, 400)
    assert.equal(body.type, 'urn:flashsale:problem:VALIDATION_FAILED')
    assert.equal(body.errors[0].path, '/qty')
    assert.equal(body.errors[0].in, 'body')
    assert.equal(body.requestId, res.headers['x-request-id'])
  })

  it('a JSON body is not coerced: a string, a boolean or an array where a number belongs is a 400, not an order', async () => {
    for (const qty of ['2', true, [1]]) {
      const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'a', qty } })
      assert.equal(res.statusCode, 400, `qty ${JSON.stringify(qty)}: ${res.body}`)
      assert.equal(res.json().errors[0].path, '/qty')
    }
    const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: ['a'], qty: 1 } })
    assert.equal(res.statusCode, 400, res.body)
    assert.equal((await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'a', qty: 2 } })).statusCode, 200)
  })

  it('when the body is not JSON, answers 400 problem+json, not 500', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: '{"sku":', headers: { 'content-type': 'application/json' } })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().status, 400)
    assert.match(res.headers['content-type'] ?? '', /problem\+json/)
  })

  it('when the media type is unsupported, answers 415 problem+json', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: 'sku=a', headers: { 'content-type': 'text/csv' } })
    assert.equal(res.statusCode, 415)
    assert.match(res.headers['content-type'] ?? '', /problem\+json/)
  })

  it('a service error keeps its code, status and message', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'gone', qty: 1 } })
    assert.equal(res.statusCode, 409)
    assert.deepEqual(
      { code: res.json().code, title: res.json().title, type: res.json().type },
      { code: 'TEST_ERR_SOLD_OUT', title: 'SKU gone is sold out', type: 'urn:flashsale:problem:TEST_ERR_SOLD_OUT' },
    )
  })

  it('only 5xx service errors capture a stack trace (a 4xx is an answer, not a fault)', () => {
    assert.equal(new SoldOut('SKU-1').stack, undefined)
    assert.match(String(new QueueDown().stack), /service-defaults\.test\.ts/)
  })

  it("an error defined with a Retry-After answers it; an instance may set its own; other errors' definitions are untouched", async () => {
    const busy = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'busy', qty: 1 } })
    assert.equal(busy.statusCode, 503)
    assert.equal(busy.headers['retry-after'], '3')
    const busier = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'busier', qty: 1 } })
    assert.equal(busier.headers['retry-after'], '7')
    assert.equal(new Busy().retryAfterSeconds, 3, 'the override stayed on its own instance')
    assert.equal(new QueueDown().retryAfterSeconds, undefined)
    assert.equal((await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'gone', qty: 1 } })).headers['retry-after'], undefined)
  })

  it('a 503 service error carries Retry-After', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'queue', qty: 1 } })
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['retry-after'], '2')
    assert.equal(res.json().code, 'TEST_ERR_QUEUE_UNAVAILABLE')
  })

  it('an unexpected error answers 500 without internals, and is logged with the request id', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'bug', qty: 1 } })
    assert.equal(res.statusCode, 500)
    assert.doesNotMatch(res.body, /secret|postgres:/)
    assert.equal(res.json().code, 'INTERNAL')
    const logged = logs.find((l) => l['msg'] === 'unhandled error')
    assert.ok(logged, 'the 500 was logged')
    assert.equal(logged['requestId'], res.json().requestId)
  })

  it('an unknown route answers 404 problem+json', async () => {
    const res = await app.inject('/nope?x=1')
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'NOT_FOUND')
    assert.equal(res.json().detail, 'No route for GET /nope')
  })
})

describe('4xx raised before routing are problem+json too (a real socket: Node parses these)', () => {
  let app: FastifyInstance
  let port: number
  before(async () => {
    ;({ app } = await buildApp())
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
  })
  after(() => app.close())

  /** Sends raw bytes, returns the whole answer once the server closes or a response arrives. */
  function raw(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request))
      let data = ''
      socket.on('data', (chunk) => (data += String(chunk)))
      socket.on('end', () => resolve(data))
      socket.on('error', reject)
      socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer; got: ${data}`)))
    })
  }
  const problemOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { status: number; code: string }

  it('headers over the size limit: 431', async () => {
    const answer = await raw(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    assert.match(answer, /^HTTP\/1\.1 431 /)
    assert.match(answer, /content-type: application\/problem\+json/i)
    assert.equal(problemOf(answer).status, 431)
  })

  it('a malformed request line: 400', async () => {
    const answer = await raw('NOT A REQUEST\r\n\r\n')
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /content-type: application\/problem\+json/i)
    assert.equal(problemOf(answer).code, 'BAD_REQUEST')
  })

  it('a URL that is not valid percent-encoding: 400', async () => {
    const res = await app.inject({ method: 'GET', url: '/orders/%E0%A4%A' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.headers['content-type'], `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
    assert.equal(res.json().code, 'FST_ERR_BAD_URL')
  })
})

describe('request id', () => {
  let app: FastifyInstance
  before(async () => ({ app } = await buildApp()))
  after(() => app.close())

  it('echoes a plain caller-supplied id and replaces one that could forge logs', async () => {
    const kept = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123' } })
    assert.equal(kept.headers['x-request-id'], 'abc-123')
    const replaced = await app.inject({ url: '/health/live', headers: { 'x-request-id': '"},{"level":60' } })
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/)
  })
})

describe('a datastore outage is a 503, never a 500 (ADR 0028)', () => {
  it('an unhandled PostgreSQL connection failure answers 503 SERVICE_ERR_DEPENDENCY_UNAVAILABLE with Retry-After, without internals', async () => {
    const { app } = await buildApp()
    try {
      const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'db-down', qty: 1 } })
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.headers['content-type'], `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
      assert.equal(res.json().code, 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE')
      assert.ok(Number(res.headers['retry-after']) >= 1)
      assert.doesNotMatch(res.body, /127\.0\.0\.1|ECONNREFUSED/)
      // A plain bug stays a 500.
      assert.equal((await app.inject({ method: 'POST', url: '/orders', payload: { sku: 'bug', qty: 1 } })).statusCode, 500)
    } finally {
      await app.close()
    }
  })
})

describe('health and readiness', () => {
  it('a shared dependency is reported at /health/deps and never makes the instance unready', async () => {
    let postgresUp = true
    const { app } = await buildApp(
      {},
      {
        postgres: async () => {
          if (!postgresUp) throw new Error('connection refused')
        },
        redis: async () => 'PONG',
      },
    )
    try {
      assert.equal((await app.inject('/health/deps')).statusCode, 200)
      postgresUp = false
      const deps = await app.inject('/health/deps')
      assert.equal(deps.statusCode, 503)
      assert.equal(deps.json().status, 'degraded')
      assert.deepEqual(deps.json().dependencies.postgres, { status: 'down', error: 'connection refused' })
      assert.equal(deps.json().dependencies.redis.status, 'up')
      assert.equal((await app.inject('/health/ready')).statusCode, 200, 'still ready: every instance shares the outage')
    } finally {
      await app.close()
    }
  })

  it('is ready when every dependency answers, and names the one that does not', async () => {
    let postgresUp = true
    const { app } = await buildApp({
      postgres: async () => {
        if (!postgresUp) throw new Error('connection refused')
      },
      redis: async () => 'PONG',
    })
    try {
      assert.equal((await app.inject('/health/live')).statusCode, 200)
      const ready = await app.inject('/health/ready')
      assert.equal(ready.statusCode, 200)
      assert.equal(ready.json().status, 'ready')
      postgresUp = false
      const notReady = await app.inject('/health/ready')
      assert.equal(notReady.statusCode, 503)
      assert.deepEqual(notReady.json().checks.postgres, { status: 'down', error: 'connection refused' })
      assert.equal(notReady.json().checks.redis.status, 'up')
    } finally {
      await app.close()
    }
  })

  it('counts a dependency that hangs as down after the readiness timeout', async () => {
    const { app } = await buildApp({ kafka: () => new Promise(() => {}) })
    try {
      const res = await app.inject('/health/ready')
      assert.equal(res.statusCode, 503)
      assert.match(res.json().checks.kafka.error, /did not answer within 200 ms/)
    } finally {
      await app.close()
    }
  })
})

describe('graceful shutdown (real socket, real PostgreSQL pool)', () => {
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase('shutdown')
  })
  after(() => db.cleanup())

  it('turns readiness to 503, finishes the in-flight request, then refuses connections and closes the pool', async () => {
    const { app } = await buildApp()
    const pool = new pg.Pool({ connectionString: db.primaryUrl, max: 2 })
    app.addHook('onClose', async () => pool.end())
    app.get('/slow', async () => (await pool.query('SELECT pg_sleep(0.5), 42 AS answer')).rows[0].answer)
    const server = await startServer(app, { host: '127.0.0.1', port: 0, drainDelayMs: 300 })

    const inFlight = fetch(`${server.url}/slow`).then(async (r) => ({ status: r.status, body: await r.text() }))
    await new Promise((r) => setTimeout(r, 100)) // the request is now inside pg_sleep
    const closed = server.shutdown('test')
    const duringDrain = await fetch(`${server.url}/health/ready`)
    assert.equal(duringDrain.status, 503)
    assert.equal(((await duringDrain.json()) as { status: string }).status, 'draining')

    assert.deepEqual(await inFlight, { status: 200, body: '42' })
    await closed
    await assert.rejects(fetch(`${server.url}/health/live`), 'the listener is closed')
    assert.equal(pool.ending, true, 'onClose hooks closed the pool')
  })
})

describe('text PostgreSQL cannot store is a 400, never a 500 (real PostgreSQL)', () => {
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase('unstorable')
  })
  after(() => db.cleanup())

  it('a U+0000 that reaches a query answers 400 SERVICE_ERR_UNSTORABLE_TEXT problem+json', async () => {
    const { app } = await buildApp()
    const pool = new pg.Pool({ connectionString: db.primaryUrl, max: 1 })
    app.addHook('onClose', async () => pool.end())
    app.post<{ Body: { text: string } }>('/echo', async (request) => (await pool.query('SELECT $1::text AS text', [request.body.text])).rows[0].text)
    try {
      const bad = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'a\u0000b' } })
      assert.equal(bad.statusCode, 400, bad.body)
      assert.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(bad.json().code, 'SERVICE_ERR_UNSTORABLE_TEXT')
      const good = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'ab' } })
      assert.equal(good.statusCode, 200)
    } finally {
      await app.close()
    }
  })
})

describe('Server-Timing: every answer says how long this process spent on it (W3C Server Timing)', () => {
  let app: FastifyInstance
  before(async () => ({ app } = await buildApp()))
  after(() => app.close())

  it('a success and a problem answer both carry app;dur in milliseconds', async () => {
    for (const sku of ['ok', 'gone']) {
      const res = await app.inject({ method: 'POST', url: '/orders', payload: { sku, qty: 1 } })
      const dur = serverTimingDuration(res.headers['server-timing'] as string)
      assert.ok(dur !== undefined && dur >= 0 && dur < 60_000, `server-timing ${res.headers['server-timing']}`)
    }
  })

  it('parses the last app;dur of a header and ignores other metrics and malformed values', () => {
    assert.equal(serverTimingDuration('app;dur=12.5'), 12.5)
    assert.equal(serverTimingDuration('db;dur=3, app;desc="x";dur=7'), 7)
    assert.equal(serverTimingDuration('upstream;dur=40, app;dur=2'), 2)
    assert.equal(serverTimingDuration('upstream;dur=40, app;dur=2', 'upstream'), 40)
    assert.equal(serverTimingDuration('app;dur=-1'), undefined)
    assert.equal(serverTimingDuration('app;dur=abc'), undefined)
    assert.equal(serverTimingDuration('app'), undefined)
    assert.equal(serverTimingDuration(undefined), undefined)
  })
})
