/**
 * The ops tool on the real stack: its Prometheus API passthrough against the stack's Prometheus, its answers to
 * bad input and to a Prometheus that is down, and the data tier's roles read from the real pg_auto_failover
 * monitor and Redis Sentinels. The page in a real browser: src/bin/check-page.ts, in make test's e2e phase.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { parseEnv, promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { STACK_ENV_FILE, freePort, getInfra } from '@flashsale/testkit'
import { buildOpsApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'
import { exportDataTier } from '../src/datatier.ts'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..', '..')
const CHECK_PAGE = join(ROOT, 'tools', 'ops', 'src', 'bin', 'check-page.ts')
const logger = createLogger({ service: 'ops-test', level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) }).logger

describe('the ops tool on the real stack', async () => {
  const infra = await getInfra()
  const native = infra.source !== 'testcontainers'
  const env = native ? (parseEnv(readFileSync(STACK_ENV_FILE, 'utf8')) as Record<string, string>) : {}
  const skip = !native && 'Prometheus, the pg_auto_failover monitor and the Sentinels run with the native stack only'
  let metrics: ProcessMetrics
  let app: FastifyInstance
  let down: FastifyInstance

  before(async () => {
    if (!native) return
    metrics = createProcessMetrics({ service: 'ops-test' })
    app = await buildOpsApp(readConfig({ ...env, LOG_LEVEL: 'silent' }), { logger, metrics })
    // A Prometheus that is not there: a port nothing listens on.
    down = await buildOpsApp(readConfig({ ...env, PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`, PROMETHEUS_TIMEOUT_MS: '500' }), {
      logger,
      metrics: createProcessMetrics({ service: 'ops-test-down' }),
    })
  })
  after(async () => {
    await app?.close()
    await down?.close()
    metrics?.stop()
  })

  it("forwards Prometheus's query API: an instant query of the stack's own targets", { skip }, async () => {
    const res = await app.inject({ url: `/api/prom/query?query=${encodeURIComponent('up{job="ops"}')}` })
    assert.equal(res.statusCode, 200, res.body)
    const { data } = res.json() as { data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } }
    assert.equal(data.resultType, 'vector')
    assert.equal(data.result.length, 1, 'Prometheus scrapes the ops tool the stack started (job ops)')
    const now = Math.floor(Date.now() / 1000)
    const range = await app.inject({ url: `/api/prom/query_range?query=up&start=${now - 30}&end=${now}&step=1` })
    assert.equal(range.statusCode, 200, range.body)
    assert.equal((range.json() as { data: { resultType: string } }).data.resultType, 'matrix')
    const alerts = await app.inject({ url: '/api/prom/alerts' })
    assert.ok(Array.isArray((alerts.json() as { data: { alerts: unknown[] } }).data.alerts))
  })

  it('answers bad input with problem+json 400 and never asks Prometheus for what it does not forward', { skip }, async () => {
    const bad = await app.inject({ url: `/api/prom/query?query=${encodeURIComponent('sum(up')}` })
    assert.equal(bad.statusCode, 400)
    assert.match(bad.headers['content-type'] as string, /application\/problem\+json/)
    assert.equal((bad.json() as { code: string }).code, 'OPS_ERR_BAD_QUERY')
    assert.match((bad.json() as { title: string }).title, /parse error/)
    for (const url of [
      '/api/prom/query',
      '/api/prom/series?query=up',
      '/api/prom/query?query=up&match[]=x',
      '/api/prom/query_range?query=up&start=1&end=2&step=0',
      `/api/prom/query?query=${'x'.repeat(4_001)}`,
      '/api/events?since=yesterday',
      '/api/events?since=-1',
    ]) {
      const res = await app.inject({ url })
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/, url)
    }
  })

  it('answers 503 + Retry-After when Prometheus is down, never a 500; the page itself is still served', { skip }, async () => {
    const res = await down.inject({ url: '/api/prom/query?query=up' })
    assert.equal(res.statusCode, 503, res.body)
    assert.equal((res.json() as { code: string }).code, 'OPS_ERR_PROMETHEUS_UNAVAILABLE')
    assert.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After')
    const deps = await down.inject({ url: '/health/deps' })
    assert.equal(deps.statusCode, 503, 'health/deps names Prometheus')
    assert.equal((await down.inject({ url: '/' })).statusCode, 200)
  })

  it('the browser check fails, naming what is wrong, when the page cannot draw (Prometheus down), and saves a screenshot', { skip }, async () => {
    const port = await freePort()
    await down.listen({ host: '127.0.0.1', port })
    const dir = mkdtempSync(join(tmpdir(), 'ops-page-'))
    try {
      const shot = join(dir, 'page.png')
      const result = await run(process.execPath, [CHECK_PAGE, '--url', `http://127.0.0.1:${port}/`, '--screenshot', shot, '--timeout', '8'], {
        cwd: ROOT,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      )
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, /did not settle within 8 s/)
      assert.match(result.stderr, /HTTP 503: http:\/\/127\.0\.0\.1:\d+\/api\/prom\/query/)
      assert.match(result.stderr, /a panel says: Prometheus did not answer/)
      assert.ok(statSync(shot).size > 10_000, 'a screenshot of the failing page')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("serves the page and its assets from the checkout: types stripped from the page's TypeScript, uPlot local", { skip }, async () => {
    const page = await app.inject({ url: '/' })
    assert.equal(page.statusCode, 200)
    assert.match(page.body, /"uplot": "\/assets\/uPlot\.esm\.js"/)
    const script = await app.inject({ url: '/page/ops.ts' })
    assert.match(script.headers['content-type'] as string, /text\/javascript/)
    assert.doesNotMatch(script.body, /: OpsPanel|import type/, 'types stripped')
    assert.match(script.body, /from 'uplot'/)
    for (const url of ['/page/series.ts', '/page/model.ts', '/page/ops.css', '/assets/uPlot.esm.js', '/assets/uPlot.min.css']) {
      assert.equal((await app.inject({ url })).statusCode, 200, url)
    }
    // Only what the page needs: its tsconfig sits beside it and is not served.
    assert.equal((await app.inject({ url: '/page/tsconfig.json' })).statusCode, 404, 'only the page files')
    const dashboard = (await app.inject({ url: '/api/dashboard' })).json() as { uid: string; rows: unknown[]; prometheusUrl: string }
    assert.equal(dashboard.uid, 'flash-sale-live')
    assert.equal(dashboard.prometheusUrl, new URL(env['PROMETHEUS_URL']!).origin)
  })

  it('exports each PostgreSQL and Redis node with its role, as the monitor and the Sentinels have them', { skip }, async () => {
    const dm = createProcessMetrics({ service: 'ops-datatier-test' })
    const tier = exportDataTier({ registry: dm.registry, monitorUrl: env['PG_MONITOR_URL'], redisUrl: env['REDIS_SENTINEL_URL'] })
    try {
      const values = async (name: string) =>
        (await dm.registry.getSingleMetric(name)!.get()).values.map((v) => ({ node: String(v.labels['node'] ?? v.labels['source']), value: v.value }))
      const pgNodes = await values('datatier_pg_node_state')
      assert.equal(pgNodes.length, 3, JSON.stringify(pgNodes))
      assert.equal(pgNodes.filter((n) => n.value === 2).length, 1, 'one primary')
      const primary = pgNodes.find((n) => n.value === 2)!.node
      // The node itself agrees: the primary is the one out of recovery.
      for (const n of pgNodes) {
        const client = new pg.Client({ connectionString: `postgres://postgres@${n.node}/postgres` })
        await client.connect()
        try {
          const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')
          assert.equal(rows[0]!.standby, n.node !== primary, `${n.node}: pg_is_in_recovery()`)
        } finally {
          await client.end()
        }
      }
      const redisNodes = await values('datatier_redis_node_state')
      assert.deepEqual(redisNodes.map((n) => n.value).sort(), [1, 2], JSON.stringify(redisNodes))
      assert.equal(redisNodes.find((n) => n.value === 2)!.node, new URL(env['REDIS_URL']!).host, "Sentinel's master is the one infra-up wrote")
      assert.deepEqual(await values('datatier_source_up'), [
        { node: 'pg_monitor', value: 1 },
        { node: 'sentinel', value: 1 },
      ])
    } finally {
      await tier.close()
      dm.stop()
    }
  })

  it('says a source is down, and shows no roles it does not know, when the monitor or every Sentinel is unreachable', { skip }, async () => {
    const dm = createProcessMetrics({ service: 'ops-datatier-down' })
    const [p1, p2] = [await freePort(), await freePort()]
    const tier = exportDataTier({
      registry: dm.registry,
      monitorUrl: `postgres://autoctl_node@127.0.0.1:${p1}/pg_auto_failover`,
      redisUrl: `redis+sentinel://127.0.0.1:${p2}/flashsale`,
      timeoutMs: 300,
    })
    try {
      const text = await dm.registry.metrics()
      assert.doesNotMatch(text, /^datatier_(pg|redis)_node_state\{/m)
      assert.match(text, /^datatier_source_up\{source="pg_monitor".*\} 0$/m)
      assert.match(text, /^datatier_source_up\{source="sentinel".*\} 0$/m)
    } finally {
      await tier.close()
      dm.stop()
    }
  })
})
