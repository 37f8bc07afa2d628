/**
 * Fault flags on a service (flags.ts says what they do):
 *   await app.register(faultFlags, { service: 'inventory', redis, registry })   // after `authentication`
 * - `PUT /admin/faults/:name` {kind, rate?, status?, ms?, route?, durationSeconds}, `DELETE /admin/faults/:name`,
 *   `GET /admin/faults`: admin token only (401/403 otherwise), validated (400 problem+json, nothing stored).
 * - Stored in one Redis hash per service (`faults:<service>`), so every instance of the service sees the same
 *   flags: each re-reads it every `refreshMs` (1 s) and drops the expired ones. A Redis outage keeps the last
 *   read flags until they expire: a fault never outlives its `until`.
 * - Applied in an onRequest hook: a hang first (no answer while the flag is in force; a request whose caller
 *   gave up is dropped, never handled late), then latency, then the error (a problem+json `FAULT_INJECTED`);
 *   health, metrics and these routes are exempt. `unready` turns `/health/ready` into a 503.
 * - Metrics: `fault_flags_active{flag,kind}` (1 while in force), `fault_injections_total{kind}`.
 * Why not OpenFeature: it standardises evaluating flags in code (a provider and a client), not injecting
 * faults into a request path; what is needed here is the store, the expiry and the hook, ~150 lines.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { Counter, Gauge, type Registry } from 'prom-client'
import Type, { type Static } from 'typebox'
import '@flashsale/auth'
import { defineError, jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { FAULT_KINDS, decide, exempt, parseFlag, unready, type FaultFlag } from './flags.ts'

export const FaultInjected = defineError('FAULT_INJECTED', 500, 'A fault flag of this service answered (%s); a drill is running')
export const FaultStoreUnavailable = defineError('FAULT_ERR_STORE_UNAVAILABLE', 503, 'Fault flags cannot be changed right now (Redis did not answer)')
/** The codes this package answers (an injected error on any route, /admin/faults without Redis), for a service's contract. */
export const FAULT_ERROR_CODES = [FaultInjected.code, FaultStoreUnavailable.code] as const

export interface FaultFlagsOptions {
  readonly service: string
  readonly redis: Redis
  readonly registry: Registry
  /** How often each instance re-reads the flags. Default 1,000 ms. */
  readonly refreshMs?: number
  readonly now?: () => number
  readonly random?: () => number
}

const FLAG_NAME = '^[a-z0-9][a-z0-9_-]{0,63}$'
const Kind = Type.Union(FAULT_KINDS.map((k) => Type.Literal(k)))
const Params = Type.Object({ name: Type.String({ pattern: FLAG_NAME }) })
const Flag = Type.Object(
  {
    kind: Kind,
    rate: Type.Number(),
    status: Type.Optional(Type.Integer()),
    ms: Type.Optional(Type.Integer()),
    route: Type.Optional(Type.String()),
    until: Type.Number({ description: 'When it switches itself off, ms since the epoch' }),
    setBy: Type.String(),
  },
  { additionalProperties: false, title: 'FaultFlag' },
)
const ADMIN_ERRORS = { 401: 'No valid bearer token', 403: 'The token lacks the admin role', 503: 'Redis did not answer: flags cannot be read or changed now' }
const SCHEMAS = {
  list: {
    summary: "This service's fault flags",
    tags: ['operations'],
    response: {
      200: jsonResponse(
        'The flags in force',
        Type.Object({ service: Type.String(), flags: Type.Record(Type.String(), Flag) }, { additionalProperties: false, title: 'FaultFlags' }),
      ),
      ...problemResponses(ADMIN_ERRORS, { validates: false }),
    },
  },
  set: {
    summary: 'Sets a fault flag for every instance of this service (off by itself after durationSeconds)',
    tags: ['operations'],
    params: Params,
    response: {
      200: jsonResponse(
        'The flag as set',
        Type.Object({ service: Type.String(), name: Type.String(), flag: Flag }, { additionalProperties: false, title: 'FaultFlagSet' }),
      ),
      ...problemResponses(ADMIN_ERRORS),
    },
  },
  remove: {
    summary: 'Removes a fault flag',
    tags: ['operations'],
    params: Params,
    response: { 204: { description: 'Removed (or there was none)', type: 'null' }, ...problemResponses(ADMIN_ERRORS) },
  },
}
const Body = Type.Object(
  {
    kind: Kind,
    rate: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
    status: Type.Optional(Type.Integer({ minimum: 500, maximum: 599 })),
    ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
    route: Type.Optional(Type.String({ pattern: '^(GET|POST|PUT|PATCH|DELETE) /[^\\s]{0,200}$' })),
    durationSeconds: Type.Integer({ minimum: 1, maximum: 3_600 }),
  },
  { additionalProperties: false },
)
type BodyT = Static<typeof Body>

export const faultFlags = fp(
  async (app: FastifyInstance, opts: FaultFlagsOptions) => {
    const { service, redis, registry, refreshMs = 1_000, now = Date.now, random = Math.random } = opts
    const key = `faults:${service}`
    let flags = new Map<string, FaultFlag>()

    // Read at scrape time: which flags are in force now.
    new Gauge({
      name: 'fault_flags_active',
      help: 'Fault flags in force on this instance (1), by flag name and kind; none when no drill runs',
      labelNames: ['flag', 'kind'] as const,
      registers: [registry],
      collect() {
        this.reset()
        const t = now()
        for (const [name, f] of flags) if (t < f.until) this.set({ flag: name, kind: f.kind }, 1)
      },
    })
    const injected = new Counter({
      name: 'fault_injections_total',
      help: 'Requests a fault flag changed, by kind (error, latency, hang)',
      labelNames: ['kind'] as const,
      registers: [registry],
    })

    async function refresh(): Promise<void> {
      const raw = await redis.hgetall(key)
      const next = new Map<string, FaultFlag>()
      const expired: string[] = []
      const t = now()
      for (const [name, value] of Object.entries(raw)) {
        const flag = parseFlag(value)
        if (flag && t < flag.until) next.set(name, flag)
        else expired.push(name)
      }
      flags = next
      if (expired.length > 0) await redis.hdel(key, ...expired)
    }
    const tick = () => {
      // The last flags read stay (each still bounded by its own `until`) when Redis does not answer.
      refresh().catch((err: unknown) => app.log.warn({ err }, 'fault flags: not re-read from Redis'))
    }
    const timer = setInterval(tick, refreshMs)
    timer.unref()
    app.addHook('onReady', async () => tick())
    app.addHook('onClose', async () => clearInterval(timer))

    app.addHook('onRequest', async (request, reply) => {
      if (flags.size === 0) return
      const url = request.routeOptions.url ?? request.url
      if (url === '/health/ready' && unready(flags, now())) {
        return reply.code(503).send({ status: 'not-ready', checks: { 'fault-flag': { status: 'down', error: 'an unready fault flag is in force' } } })
      }
      if (exempt(url)) return
      const d = decide(flags, request.method, url, now(), random)
      if (d.hangUntil !== undefined) {
        injected.inc({ kind: 'hang' })
        const hung = d.fired.filter((f) => f.kind === 'hang').map((f) => f.name)
        // Until the flag ends or is removed, looked at every refresh; a caller that gave up meanwhile is gone,
        // and handling its request now (a reservation nobody waits for) would be a fault of another kind.
        while (now() < d.hangUntil && hung.some((name) => flags.get(name)?.kind === 'hang') && request.raw.socket?.destroyed !== true) {
          await sleep(Math.min(d.hangUntil - now(), refreshMs))
        }
        if (request.raw.socket?.destroyed === true) return reply.hijack()
      }
      if (d.latencyMs > 0) {
        injected.inc({ kind: 'latency' })
        await sleep(d.latencyMs)
      }
      if (d.errorStatus !== undefined) {
        injected.inc({ kind: 'error' })
        const err = new FaultInjected(d.fired.map((f) => f.name).join(', '))
        ;(err as { statusCode: number }).statusCode = d.errorStatus
        throw err
      }
    })

    const storeDown = (err: unknown) => {
      app.log.warn({ err }, 'fault flags: Redis did not answer')
      return new FaultStoreUnavailable()
    }

    app.get('/admin/faults', { onRequest: app.requireAdmin, schema: SCHEMAS.list }, async () => {
      await refresh().catch((err: unknown) => {
        throw storeDown(err)
      })
      return { service, flags: Object.fromEntries(flags) }
    })

    app.put<{ Params: Static<typeof Params>; Body: BodyT }>(
      '/admin/faults/:name',
      { onRequest: app.requireAdmin, schema: { ...SCHEMAS.set, body: Body } },
      async (request) => {
        const { kind, rate, status, ms, route, durationSeconds } = request.body
        const flag: FaultFlag = {
          kind,
          rate,
          until: now() + durationSeconds * 1_000,
          setBy: request.user?.userId ?? 'unknown',
          ...(status === undefined ? {} : { status }),
          ...(ms === undefined ? {} : { ms }),
          ...(route === undefined ? {} : { route }),
        }
        await redis.hset(key, request.params.name, JSON.stringify(flag)).catch((err: unknown) => {
          throw storeDown(err)
        })
        await refresh().catch(() => {})
        request.log.warn({ flag: request.params.name, ...flag }, 'fault flag set')
        return { service, name: request.params.name, flag }
      },
    )

    app.delete<{ Params: Static<typeof Params> }>('/admin/faults/:name', { onRequest: app.requireAdmin, schema: SCHEMAS.remove }, async (request, reply) => {
      await redis.hdel(key, request.params.name).catch((err: unknown) => {
        throw storeDown(err)
      })
      await refresh().catch(() => {})
      request.log.warn({ flag: request.params.name }, 'fault flag removed')
      return reply.code(204).send()
    })
  },
  { name: '@flashsale/faults', fastify: '5.x', dependencies: ['@flashsale/auth'] },
)
