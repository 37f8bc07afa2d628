/**
 * Everything every service has, in one line (eShop's AddServiceDefaults):
 *   await app.register(serviceDefaults, { metrics, readiness: { postgres: () => db.ping() } })
 * request id, sampled access log, RED metrics + /metrics, /health/live, /health/ready, /health/deps,
 * problem+json (a datastore outage is a 503 + Retry-After, never a 500).
 *
 * Three health signals, for three consumers (ADR 0028):
 * - /health/live: the process answers. A supervisor restarts it when it does not.
 * - /health/ready: this instance can serve its core route now, as far as anything specific to it says
 *   (`readiness`: its own circuit to a dependency, warm-up, draining). A load balancer sends traffic only
 *   to ready instances. A datastore every instance shares is NOT a readiness check: its outage makes every
 *   instance equally (un)able, and ejecting them all turns each service's own answer (a queued order, a
 *   replica read, a 503 with its reason) into the load balancer's "no instance".
 * - /health/deps: each dependency's state (`dependencies`), 200 when all answer, else 503 naming the one
 *   that does not: for people, dashboards and alerts, never for routing.
 * Fastify options that must be set at construction (logger, request id header) come from
 * `serviceFastifyOptions`; listening and graceful shutdown from `startServer` (server.ts only).
 */
import { randomUUID } from 'node:crypto'
import { AjvCompiler, type RouteDefinition } from '@fastify/ajv-compiler'
import { LogController, type FastifyError, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { createAccessLogSampler, type AccessLogSampling, type Logger } from '@flashsale/logging'
import { httpMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { isDependencyUnavailable, jitteredRetryAfterSeconds } from '@flashsale/resilience'
import { DependencyUnavailable, isServiceError, isUnstorableText, PROBLEM_CONTENT_TYPE, sendProblem, toProblem, UnstorableText } from './errors.ts'
import { HEALTH_SCHEMAS, ProblemSchema } from './contract.ts'
import { registerOpenApi, type OpenApiInfo } from './openapi.ts'

export const REQUEST_ID_HEADER = 'x-request-id'
export const SERVER_TIMING_HEADER = 'server-timing'

/** A readiness check resolves when the dependency answers, and throws (or times out) when it does not. */
export type ReadinessCheck = () => Promise<unknown>

export interface ServiceDefaultsOptions {
  readonly metrics: ProcessMetrics
  /** What this instance, and not its peers, needs to serve its core route; /health/ready is 503 while any fails. */
  readonly readiness?: Readonly<Record<string, ReadinessCheck>>
  /** Shared dependencies (datastores), reported at /health/deps; never part of readiness. */
  readonly dependencies?: Readonly<Record<string, ReadinessCheck>>
  readonly readinessTimeoutMs?: number
  readonly accessLog?: AccessLogSampling
  /** The service's OpenAPI document (generated from its routes, served at /openapi.json); none when absent. */
  readonly openapi?: OpenApiInfo
}

const REQUEST_ID = /^[\w.:-]{1,128}$/

declare module 'fastify' {
  interface FastifyInstance {
    /** Readiness answers 503 from now on, so traffic moves away before the server closes. */
    startDraining(): void
  }
}

export function serviceFastifyOptions(logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    // One line per request would be the hot path's biggest cost; serviceDefaults logs a sample.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // Off, so genReqId always decides: Fastify would otherwise take any header value verbatim.
    requestIdHeader: false,
    // Accept a caller's id only when it is short and plain, so logs cannot be forged or flooded.
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER]
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    bodyLimit: 64 * 1024,
    // While closing: new requests get 503, idle keep-alive sockets close, in-flight ones finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Longer than a typical load balancer's idle timeout, so the proxy closes first (no reset races).
    keepAliveTimeout: 72_000,
    ajv: { customOptions: AJV_OPTIONS },
    // Errors Fastify meets before routing (a URL that is not valid percent-encoding, FST_ERR_BAD_URL) answer
    // problem+json like every other 4xx, not Fastify's own JSON.
    frameworkErrors: (err, request, reply) => void sendProblem(reply, toProblem(err, request)),
    // Requests Node's HTTP parser refuses before Fastify sees them (headers over the size limit, a malformed
    // request line, a Content-Length that does not match): problem+json too, written on the socket.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy()
      const status = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
      const title = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
      const body = JSON.stringify({
        type: 'about:blank',
        title,
        status,
        code: status === 431 ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
        detail: 'The request could not be parsed',
      })
      socket.end(
        `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    },
    // Query strings, path parameters and headers arrive as text, so they are coerced ("5" → 5, a lone value →
    // an array); a JSON body says what its types are, so it is not: `"qty": "2"`, `true` or `[1]` is a 400,
    // never an order for 2, 1 or 1 unit. https://ajv.js.org/coercion.html
    schemaController: {
      compilersFactory: {
        // (@fastify/ajv-compiler's types describe the compiler as Ajv's compile; at run time Fastify calls it with
        // the route definition, as its docs say: https://fastify.dev/docs/latest/Reference/Server/#schemacontroller)
        buildValidator: ((externalSchemas: Record<string, object>, serverOptions: { plugins?: unknown[] }) => {
          const factory = AJV_FACTORY // one pool of compilers for every plugin context (keyed by schemas and options)
          const compiler = (coerceTypes: 'array' | false) =>
            factory(externalSchemas as never, { ...serverOptions, customOptions: { ...AJV_OPTIONS, coerceTypes } } as never) as unknown as RouteCompiler
          const text = compiler('array')
          const json = compiler(false)
          return (route: RouteDefinition) => (route.httpPart === 'body' ? json : text)(route)
        }) as never,
      },
    },
  }
}

const AJV_OPTIONS = { allErrors: false, removeAdditional: false, coerceTypes: 'array', useDefaults: true } as const
const AJV_FACTORY = AjvCompiler()
/** What Fastify calls a validator compiler with: the route, and the part of the request the schema is for. */
type RouteCompiler = (route: RouteDefinition) => (data: unknown) => boolean

export const serviceDefaults = fp(
  async (app: FastifyInstance, opts: ServiceDefaultsOptions) => {
    const logAccess = createAccessLogSampler(opts.accessLog)
    const checks = Object.entries(opts.readiness ?? {})
    const dependencies = Object.entries(opts.dependencies ?? {})
    const timeoutMs = opts.readinessTimeoutMs ?? 1_000
    let closing = false

    app.addHook('onRequest', async (request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id)
    })
    app.addHook('onSend', async (_request, reply) => {
      // The time this process spent on the request, for the caller's latency-driven mechanisms (W3C Server
      // Timing, https://www.w3.org/TR/server-timing/): a proxy in front measures a round trip that includes
      // its own event-loop delay, which is not ours (ADR 0025). Appended to a header a proxied answer carries.
      const own = `app;dur=${reply.elapsedTime.toFixed(1)}`
      const given = reply.getHeader(SERVER_TIMING_HEADER)
      reply.header(SERVER_TIMING_HEADER, typeof given === 'string' && given !== '' ? `${given}, ${own}` : own)
      // A keep-alive socket that served a request during the drain would otherwise hold close() open
      // until keepAliveTimeout; ask the client to close it after this response.
      if (closing) reply.header('connection', 'close')
    })
    // A service's own 5xx (a refusal, a timeout) is told by its access line, with its problem code: one line
    // per answer at most, and those capped per second (createAccessLogSampler), never one per refused buyer.
    const problemCodes = new WeakMap<FastifyRequest, string>()
    app.addHook('onResponse', async (request, reply) => {
      if (!logAccess(reply.statusCode, reply.elapsedTime)) return
      const line = {
        method: request.method,
        url: request.url,
        route: request.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        code: problemCodes.get(request),
      }
      if (reply.statusCode >= 500) request.log.warn(line, 'access')
      else request.log.info(line, 'access')
    })
    app.decorate('startDraining', () => {
      closing = true
    })
    app.addHook('preClose', async () => {
      closing = true
    })

    app.addSchema(ProblemSchema)
    if (opts.openapi) await registerOpenApi(app, opts.openapi)
    await app.register(httpMetrics, { registry: opts.metrics.registry })

    app.get('/health/live', { logLevel: 'silent', schema: HEALTH_SCHEMAS.live }, async () => ({ status: 'ok' }))

    const run = (list: typeof checks) =>
      Promise.all(
        list.map(async ([name, check]) => {
          try {
            await withTimeout(check(), timeoutMs, name)
            return [name, { status: 'up' }] as const
          } catch (err) {
            return [name, { status: 'down', error: err instanceof Error ? err.message : String(err) }] as const
          }
        }),
      )

    app.get('/health/ready', { logLevel: 'silent', schema: HEALTH_SCHEMAS.ready }, async (_request, reply) => {
      if (closing) return reply.code(503).send({ status: 'draining', checks: {} })
      const results = await run(checks)
      const ready = results.every(([, r]) => r.status === 'up')
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results) })
    })

    app.get('/health/deps', { logLevel: 'silent', schema: HEALTH_SCHEMAS.deps }, async (_request, reply) => {
      const results = await run(dependencies)
      const up = results.every(([, r]) => r.status === 'up')
      return reply.code(up ? 200 : 503).send({ status: up ? 'up' : 'degraded', dependencies: Object.fromEntries(results) })
    })

    app.setErrorHandler((err: FastifyError, request, reply) => {
      // A datastore that does not answer is an outage to retry through, not a bug (ADR 0028).
      if (!isServiceError(err) && isDependencyUnavailable(err)) {
        request.log.warn({ err: { message: err.message, code: err.code } }, 'a dependency is unavailable; answered 503')
        const unavailable = new DependencyUnavailable()
        return sendProblem(reply, toProblem(unavailable, request), jitteredRetryAfterSeconds(1_000))
      }
      if (isUnstorableText(err)) return sendProblem(reply, toProblem(new UnstorableText(), request))
      const problem = toProblem(err, request)
      if (problem.status >= 500 && !isServiceError(err)) request.log.error({ err }, 'unhandled error')
      else if (problem.status >= 500) problemCodes.set(request, problem.code)
      return sendProblem(reply, problem, isServiceError(err) ? err.retryAfterSeconds : undefined)
    })

    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, {
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `No route for ${request.method} ${request.url.split('?')[0]}`,
        instance: request.url,
        code: 'NOT_FOUND',
        requestId: String(request.id),
      }),
    )
  },
  { name: '@flashsale/service-defaults', fastify: '5.x' },
)

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The `dur` of metric `name` in a Server-Timing header value (`app;dur=12.3, db;dur=4`), in milliseconds,
 * or undefined when absent or not a finite non-negative number. Takes the last occurrence: a header that
 * passed through several of our processes lists the outermost last.
 */
export function serverTimingDuration(header: string | undefined, name = 'app'): number | undefined {
  if (!header) return undefined
  let found: number | undefined
  for (const entry of header.split(',')) {
    const [metric, ...params] = entry.split(';')
    if (metric?.trim() !== name) continue
    for (const p of params) {
      const eq = p.indexOf('=')
      if (eq < 0 || p.slice(0, eq).trim() !== 'dur') continue
      const ms = Number(p.slice(eq + 1).trim())
      if (Number.isFinite(ms) && ms >= 0) found = ms
    }
  }
  return found
}
