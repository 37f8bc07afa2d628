/**
 * Metrics for every process: one prom-client registry per process (never the global default, so tests
 * and several apps in one process stay apart), Node's default metrics, per-interval event-loop
 * utilization, HTTP RED histograms by route and status, and the `/metrics` route.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export { Counter, Gauge, Histogram, Registry }

/** Buckets in seconds from 1 ms to 10 s: a flash sale lives in the low milliseconds, timeouts at seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface ProcessMetrics {
  readonly registry: Registry
  /** Event-loop utilization (0..1) over the last completed interval; a load signal for shedding. */
  eventLoopUtilization(): number
  stop(): void
}

/**
 * @param intervalMs ELU window. @fastify/under-pressure reports ELU since process start, which
 * barely moves after minutes of uptime; a fixed recent window reacts to load within one interval.
 */
export function createProcessMetrics({ service, intervalMs = 1000 }: { service: string; intervalMs?: number }): ProcessMetrics {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  // Includes nodejs_eventloop_lag_{p50,p90,p99}_seconds (a monitorEventLoopDelay histogram), heap, GC, handles.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })

  let previous: EventLoopUtilization = performance.eventLoopUtilization()
  let current = 0
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    current = performance.eventLoopUtilization(now, previous).utilization
    previous = now
  }, intervalMs)
  timer.unref()

  new Gauge({
    name: 'nodejs_eventloop_utilization_ratio',
    help: `Event-loop utilization over the last ${intervalMs} ms (0..1)`,
    registers: [registry],
    collect() {
      this.set(current)
    },
  })

  return { registry, eventLoopUtilization: () => current, stop: () => clearInterval(timer) }
}

export interface HttpMetricsOptions {
  readonly registry: Registry
  /** Path of the scrape endpoint. */
  readonly path?: string
}

/**
 * RED metrics per route: rate and errors from the histogram's count by status code, duration from its
 * buckets. The route label is the route pattern (`/orders/:id`), never the raw URL, so cardinality stays
 * bounded; requests that match no route are labelled `(unmatched)`.
 */
export const httpMetrics = fp(
  async (app: FastifyInstance, { registry, path = '/metrics' }: HttpMetricsOptions) => {
    const duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP server request duration by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
    const inFlight = new Gauge({ name: 'http_server_requests_in_flight', help: 'HTTP requests being served', registers: [registry] })

    app.addHook('onRequest', async () => {
      inFlight.inc()
    })
    app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      inFlight.dec()
      if (request.routeOptions.url === path) return
      duration.observe(
        { method: request.method, route: request.routeOptions.url ?? '(unmatched)', status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      )
    })

    app.get(path, { logLevel: 'silent' }, async (_request, reply) => {
      reply.header('content-type', registry.contentType)
      return registry.metrics()
    })
  },
  { name: '@flashsale/metrics', fastify: '5.x' },
)

/**
 * The sum of one metric's samples in a Prometheus text exposition (a service's /metrics) whose labels include
 * every pair of `match`; 0 when none does. For scripts that read a running service: the demo's summary and
 * the chaos drills' report.
 */
export function sumSamples(text: string, name: string, match: Readonly<Record<string, string>> = {}): number {
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}
