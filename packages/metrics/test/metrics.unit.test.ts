import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Fastify from 'fastify'
import { createProcessMetrics, httpMetrics, sumSamples } from '../src/index.ts'

describe('httpMetrics', () => {
  it('records requests by route pattern and status, and serves them at /metrics', async () => {
    const pm = createProcessMetrics({ service: 'test' })
    const app = Fastify()
    await app.register(httpMetrics, { registry: pm.registry })
    app.get('/orders/:id', async (req, reply) => ((req.params as { id: string }).id === 'missing' ? reply.code(404).send() : { ok: true }))
    try {
      await app.inject('/orders/1')
      await app.inject('/orders/2')
      await app.inject('/orders/missing')
      await app.inject('/nowhere')
      const res = await app.inject('/metrics')
      assert.equal(res.statusCode, 200)
      assert.match(res.headers['content-type'] ?? '', /text\/plain/)
      const body = res.body
      assert.match(body, /http_server_request_duration_seconds_count\{service="test",method="GET",route="\/orders\/:id",status_code="200"\} 2/)
      assert.match(body, /http_server_request_duration_seconds_count\{service="test",method="GET",route="\/orders\/:id",status_code="404"\} 1/)
      assert.match(body, /route="\(unmatched\)",status_code="404"/)
      assert.doesNotMatch(body, /route="\/orders\/1"/, 'raw URLs never become labels')
      assert.match(body, /nodejs_eventloop_lag_p99_seconds/)
      assert.match(body, /nodejs_eventloop_utilization_ratio/)
    } finally {
      pm.stop()
      await app.close()
    }
  })
})

describe('createProcessMetrics', () => {
  it('reports event-loop utilization near 1 over an interval when the loop is kept busy', async () => {
    const pm = createProcessMetrics({ service: 'test', intervalMs: 100 })
    try {
      // Busy for several whole intervals; the timer fires between busy slices.
      for (let slice = 0; slice < 6; slice++) {
        const end = Date.now() + 100
        while (Date.now() < end) {
          /* spin */
        }
        await new Promise((r) => setImmediate(r))
      }
      assert.ok(pm.eventLoopUtilization() > 0.5, `utilization ${pm.eventLoopUtilization()}`)
      await new Promise((r) => setTimeout(r, 350))
      assert.ok(pm.eventLoopUtilization() < 0.5, `idle utilization ${pm.eventLoopUtilization()}`)
    } finally {
      pm.stop()
    }
  })
})

describe('sumSamples (reading a /metrics text)', () => {
  const text = [
    '# HELP x_total things',
    '# TYPE x_total counter',
    'x_total{service="a",route="/r",status="200"} 3',
    'x_total{service="a",route="/r",status="503"} 2',
    'x_total{service="a",route="/other",status="200"} 7',
    'x_total_more{service="a",route="/r"} 100',
    'y 4',
  ].join('\n')

  it('sums the samples whose labels include every pair asked; another metric with the name as prefix is not one', () => {
    assert.equal(sumSamples(text, 'x_total', { route: '/r' }), 5)
    assert.equal(sumSamples(text, 'x_total', { route: '/r', status: '503' }), 2)
    assert.equal(sumSamples(text, 'x_total'), 12)
    assert.equal(sumSamples(text, 'y'), 4, 'a sample without labels')
    assert.equal(sumSamples(text, 'x_total', { route: '/none' }), 0)
    assert.equal(sumSamples('', 'x_total'), 0)
  })
})
