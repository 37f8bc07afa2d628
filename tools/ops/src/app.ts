/**
 * buildOpsApp(config, deps) → the ops page as a Fastify instance (server.ts listens). It serves:
 *   GET /                     the page (page/index.html), its script and styles, and uPlot, all from this
 *                             checkout: the page works with no internet
 *   GET /api/dashboard        the panels to draw, read from the Grafana dashboard file (src/dashboard.ts)
 *   GET /api/prom/:endpoint   query, query_range and alerts of Prometheus's HTTP API, forwarded: the page
 *                             and its data come from one origin, so Prometheus needs no CORS
 *   GET /api/events           the marks drawn on the charts (src/events.ts)
 *   GET /metrics              this process's metrics and the data tier's roles (src/datatier.ts)
 * Why the page reads Prometheus and not the services: docs/adr/0035-ops-page.md.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire, stripTypeScriptTypes } from 'node:module'
import { dirname, join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@flashsale/config'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { defineError, problemResponses, serviceDefaults, serviceFastifyOptions } from '@flashsale/service-defaults'
import { Agent, request } from 'undici'
import type { Config } from './config.ts'
import { loadDashboard } from './dashboard.ts'
import { readEvents } from './events.ts'

export const PrometheusUnavailable = defineError('OPS_ERR_PROMETHEUS_UNAVAILABLE', 503, 'Prometheus did not answer: %s', { retryAfterSeconds: 2 })
export const BadQuery = defineError('OPS_ERR_BAD_QUERY', 400, 'Prometheus refused the query: %s')

export interface OpsDeps {
  readonly logger: Logger
  readonly metrics: ProcessMetrics
}

const PAGE_DIR = join(import.meta.dirname, '..', 'page')
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'))
const PROM_ENDPOINTS = ['query', 'query_range', 'alerts'] as const
/** The Prometheus API parameters the page uses; anything else is not forwarded. */
const PROM_PARAMS = ['query', 'start', 'end', 'step', 'time'] as const

interface Asset {
  readonly type: string
  readonly body: string
}

/** Every file the page needs, read once: the page's TypeScript has its types stripped as Node strips ours. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const file of readdirSync(PAGE_DIR)) {
    const body = readFileSync(join(PAGE_DIR, file), 'utf8')
    if (file.endsWith('.ts')) assets.set(`/page/${file}`, { type: 'text/javascript; charset=utf-8', body: stripTypeScriptTypes(body) })
    else if (file.endsWith('.css')) assets.set(`/page/${file}`, { type: 'text/css; charset=utf-8', body })
    else if (file === 'index.html') assets.set('/', { type: 'text/html; charset=utf-8', body })
  }
  assets.set('/assets/uPlot.esm.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(join(UPLOT_DIST, 'uPlot.esm.js'), 'utf8') })
  assets.set('/assets/uPlot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(UPLOT_DIST, 'uPlot.min.css'), 'utf8') })
  return assets
}

export async function buildOpsApp(config: Config, deps: OpsDeps): Promise<FastifyInstance> {
  const dashboard = loadDashboard(config.OPS_DASHBOARD, config.OPS_RATE_WINDOW) // a bad file fails the start, naming the panel
  const assets = loadAssets()
  const eventsFile = join(config.FLASHSALE_STATE_DIR, 'chaos-events.jsonl')
  const prometheus = new URL(config.PROMETHEUS_URL)
  const dispatcher = new Agent({ connections: 8, connectTimeout: config.PROMETHEUS_TIMEOUT_MS })

  const app = Fastify(serviceFastifyOptions(deps.logger))
  await app.register(serviceDefaults, {
    metrics: deps.metrics,
    dependencies: {
      prometheus: async () => {
        const r = await request(new URL('/-/ready', prometheus), { dispatcher, headersTimeout: 1_000, bodyTimeout: 1_000 })
        await r.body.dump()
        if (r.statusCode !== 200) throw new Error(`Prometheus /-/ready answered ${r.statusCode}`)
      },
    },
  })
  app.addHook('onClose', async () => dispatcher.close())

  for (const [path, asset] of assets) {
    app.get(path, { logLevel: 'warn' }, async (_request, reply) => reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body))
  }

  const answer = { ...dashboard, prometheusUrl: prometheus.origin }
  app.get('/api/dashboard', async () => answer)

  app.get(
    '/api/events',
    {
      schema: {
        querystring: Type.Object(
          { since: Type.Integer({ minimum: 0, default: 0, description: 'epoch ms: the events at or after it' }) },
          { additionalProperties: false },
        ),
        response: problemResponses({}),
      },
    },
    async (req) => ({ events: await readEvents(eventsFile, (req.query as { since: number }).since) }),
  )

  app.get(
    '/api/prom/:endpoint',
    {
      schema: {
        params: Type.Object({ endpoint: Type.Union(PROM_ENDPOINTS.map((e) => Type.Literal(e))) }),
        querystring: Type.Object(
          {
            query: Type.Optional(Type.String({ minLength: 1, maxLength: 4_000 })),
            start: Type.Optional(Type.Number()),
            end: Type.Optional(Type.Number()),
            step: Type.Optional(Type.Number({ minimum: 1, maximum: 3_600 })),
            time: Type.Optional(Type.Number()),
          },
          { additionalProperties: false },
        ),
        response: problemResponses({
          400: 'Not a query Prometheus takes (OPS_ERR_BAD_QUERY, with its reason), or a parameter out of range (VALIDATION_FAILED)',
          503: 'Prometheus did not answer in time (OPS_ERR_PROMETHEUS_UNAVAILABLE); Retry-After says when to ask again',
        }),
      },
    },
    async (req, reply) => {
      const { endpoint } = req.params as { endpoint: (typeof PROM_ENDPOINTS)[number] }
      const query = req.query as Partial<Record<(typeof PROM_PARAMS)[number], string | number>>
      if (endpoint !== 'alerts' && query.query === undefined) throw new BadQuery('query is required')
      const url = new URL(`/api/v1/${endpoint}`, prometheus)
      for (const name of PROM_PARAMS) if (query[name] !== undefined) url.searchParams.set(name, String(query[name]))
      let res
      try {
        res = await request(url, { dispatcher, headersTimeout: config.PROMETHEUS_TIMEOUT_MS, bodyTimeout: config.PROMETHEUS_TIMEOUT_MS })
      } catch (err) {
        throw new PrometheusUnavailable((err as Error).message)
      }
      const body = (await res.body.json().catch(() => undefined)) as { status?: string; error?: string; data?: unknown } | undefined
      if (res.statusCode === 400 || res.statusCode === 422) throw new BadQuery(body?.error ?? `status ${res.statusCode}`)
      if (res.statusCode !== 200 || body?.status !== 'success') throw new PrometheusUnavailable(body?.error ?? `status ${res.statusCode}`)
      return reply.header('cache-control', 'no-store').send({ data: body.data })
    },
  )
  return app
}
