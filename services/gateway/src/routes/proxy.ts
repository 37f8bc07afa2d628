/**
 * The proxied routes, one Fastify route per row of the route table. By the time a handler runs, the
 * onRequest hooks (app.ts) have checked the blocklist and the token, and Fastify has validated params,
 * query, headers and body against the row's schema (400 before any upstream is touched). Here: the
 * route's own auth rule, rate limits, bot score, degradation, then the upstream's call pipeline.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthRouteConfig } from '@flashsale/auth'
import type { Degradation } from '../domain/degradation.ts'
import type { SoldOutEdge } from '../domain/sold-out-edge.ts'
import type { IntakeRouteConfig } from '../intake.ts'
import type { StaleCache } from '../domain/stale-cache.ts'
import { proxiedResponses } from '../contract.ts'
import { Degraded, SoldOutAtEdge, WaitingRoomPassInvalid, WaitingRoomPassRequired } from '../errors.ts'
import type { Funnel } from '../funnel.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { RouteDefinition } from '../route-table.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { WaitingRooms } from '../waiting-room/rooms.ts'

export interface ProxyRoutesOptions {
  readonly routes: readonly RouteDefinition[]
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** Bot score, then rate limits (funnel.ts). */
  readonly funnel: Funnel
  /** The waiting rooms: order placement for a SKU whose sale has one needs its pass. Undefined = none. */
  readonly rooms?: WaitingRooms | undefined
  readonly degradation: Degradation
  readonly staleCache: StaleCache
  /** Sold out at the edge, for routes with `soldOutEdge` (ADR 0027); undefined = switched off. */
  readonly soldOut?: SoldOutEdge | undefined
  /** What the service behind each route answers, keyed "METHOD /path" (route-responses.json), for the OpenAPI document. */
  readonly serviceResponses: Readonly<Record<string, Record<string, never>>>
  /** The 401 for a token that was sent and did not verify (app.ts), for the routes that authenticate late. */
  readonly invalidToken: (request: FastifyRequest, reply: FastifyReply) => Error | undefined
  readonly metrics: GatewayMetrics
  /**
   * Load signals for automatic degradation: the upstream's own time for answers of core routes (ADR 0025;
   * undefined when there was no answer), and upstream call outcomes.
   */
  readonly observe: (sample: { core: boolean; upstreamMs: number | undefined; upstreamFailed: boolean | undefined }) => void
}

// Only these request headers reach a service. Identity travels only as the Authorization header, which
// the service verifies itself (ADR 0019); a client's x-user-id or similar never gets through.
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-language', 'authorization', 'content-type', 'idempotency-key', 'if-none-match', 'user-agent']

function forwardHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of FORWARDED_REQUEST_HEADERS) {
    const v = request.headers[h]
    if (typeof v === 'string') out[h] = v
  }
  out['x-request-id'] = String(request.id)
  out['x-forwarded-for'] = request.ip
  out['x-forwarded-proto'] = request.protocol
  return out
}

const headerOf = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name]
  return typeof v === 'string' ? v : undefined
}

function passRefusal(saleId: string, verdict: string) {
  const join = `/sales/${saleId}/waiting-room/ticket`
  const err = verdict === 'missing' ? new WaitingRoomPassRequired(saleId, join) : new WaitingRoomPassInvalid(verdict)
  err.details = { saleId, join, reason: verdict }
  return err
}

function soldOutFailure(saleId: string, sku: string) {
  const err = new SoldOutAtEdge(saleId)
  err.details = { saleId, sku }
  return err
}

/** The saleId of a 409 ORDER_ERR_SOLD_OUT problem the order service answered, else undefined. */
function soldOutSaleOf(body: Buffer): string | undefined {
  try {
    const problem = JSON.parse(body.toString('utf8')) as { code?: unknown; saleId?: unknown }
    return problem.code === SoldOutAtEdge.code && typeof problem.saleId === 'string' ? problem.saleId : undefined
  } catch {
    return undefined
  }
}

export async function proxyRoutes(app: FastifyInstance, opts: ProxyRoutesOptions): Promise<void> {
  const { upstreams, degradation, staleCache, soldOut, metrics } = opts
  for (const route of opts.routes) {
    const upstream = upstreams.get(route.upstream)!
    const core = route.priority === 'core'
    const edge = route.soldOutEdge ? soldOut : undefined
    app.route({
      method: route.method,
      url: route.path,
      schema: {
        ...(route.schema ?? {}),
        summary: `${route.method} ${route.path} (${route.upstream} service)`,
        tags: [route.upstream],
        security: route.auth === 'user' ? [{ bearerAuth: [] }] : [],
        response: proxiedResponses(route, opts.serviceResponses[`${route.method} ${route.path}`]),
      },
      // A route answered sold out at the edge checks the token's signature only for the buyers it lets through.
      ...(route.auth === 'user' && !edge ? { onRequest: app.requireUser } : {}),
      config: {
        budgetMs: route.timeoutMs,
        priority: route.priority,
        byDeadline: route.queue === 'deadline',
        authenticateLate: edge !== undefined,
      } satisfies IntakeRouteConfig & AuthRouteConfig,
      handler: async (request, reply) => {
        // The route's latency budget runs from arrival (the door, intake.ts): the wait there, rate limits and
        // the wait for an upstream slot all spend it.
        const deadline = request.deadline

        // Sold out at the edge (ADR 0027): first, so a doomed attempt costs no signature check (the token's shape
        // was checked, and one must be there), no Redis call and no slot. Sold out is public (GET /sales/:id
        // says it), so answering it before knowing who asks tells nobody anything. Checked again once a
        // queued request gets its slot.
        const order = edge ? (request.body as { sku: string; qty: number }) : undefined
        const soldOutNow = () => (order ? edge!.soldOutSale(order.sku) : undefined)
        if (edge) {
          if (route.auth === 'user' && request.headers.authorization === undefined) await app.requireUser(request, reply)
          const soldOutAtArrival = soldOutNow()
          if (soldOutAtArrival !== undefined) {
            metrics.soldOutAnswers.inc({ when: 'arrival' })
            throw soldOutFailure(soldOutAtArrival, order!.sku)
          }
          await app.authenticate(request)
          const invalid = opts.invalidToken(request, reply)
          if (invalid) throw invalid
          if (route.auth === 'user') await app.requireUser(request, reply)
        }
        const userId = request.user?.userId
        const headers = forwardHeaders(request)

        // A sale with a waiting room takes orders only with the pass its room gave this buyer, checked here
        // with no Redis call; the pass's id becomes the order's Idempotency-Key, so it buys one order at most.
        const room = route.soldOutEdge && opts.rooms ? opts.rooms.bySku((request.body as { sku: string }).sku) : undefined
        if (room) {
          const check = opts.rooms!.checkPass(room.state, headerOf(request, 'waiting-room-pass'), userId ?? '', room.state.sku)
          metrics.roomPasses.inc({ verdict: check.ok ? 'ok' : check.verdict })
          if (!check.ok) throw passRefusal(room.state.saleId, check.verdict)
          headers['idempotency-key'] = `wr-${check.id}`
        }

        // A request the upstream's queue would refuse at once is refused before the rate limits' Redis round trip:
        // under overload a refusal is the answer, and the sooner the better (order placement and payment wait
        // by deadline and are judged in the queue).
        if (route.queue !== 'deadline') upstream.refuseIfOverloaded(route.priority)
        await opts.funnel(request, reply)

        if (!core && degradation.state().degraded) {
          const stale = request.method === 'GET' ? staleCache.recall(userId, request.url) : undefined
          if (stale) {
            metrics.degradedAnswers.inc({ answer: 'stale' })
            return reply
              .code(stale.status)
              .headers(stale.headers)
              .header('age', String(Math.floor((Date.now() - stale.storedAt) / 1000)))
              .header('x-gateway-degraded', 'stale')
              .send(stale.body)
          }
          metrics.degradedAnswers.inc({ answer: 'unavailable' })
          metrics.shed.inc({ upstream: route.upstream, priority: route.priority, reason: 'degraded' })
          const err = new Degraded()
          err.retryAfterSeconds = 5
          err.details = { degraded: true, reason: degradation.state().reason }
          throw err
        }

        let upstreamFailed: boolean | undefined
        let upstreamMs: number | undefined
        // From here the upstream's own queue decides: the door lets the next request in.
        request.leaveIntake()
        try {
          const answer = await upstream.call({
            method: request.method,
            path: request.url,
            headers,
            body: request.body === undefined || request.body === null ? undefined : JSON.stringify(request.body),
            clientIp: request.ip,
            priority: route.priority,
            deadline,
            admitByDeadline: route.queue === 'deadline',
            retryable: route.retryable,
            ...(order
              ? {
                  group: order.sku,
                  admitted: () => {
                    const saleId = soldOutNow()
                    if (saleId === undefined) return
                    metrics.soldOutAnswers.inc({ when: 'after_queue' })
                    throw soldOutFailure(saleId, order.sku)
                  },
                }
              : {}),
          })
          upstreamFailed = answer.status >= 500
          upstreamMs = answer.upstreamMs
          // One unit refused as sold out means none is left: every instance of this gateway may say so now.
          if (order && order.qty === 1 && answer.status === 409) {
            const saleId = soldOutSaleOf(answer.body)
            if (saleId !== undefined) edge!.markSoldOut(order.sku, saleId, 'proxied')
          }
          if (!core && request.method === 'GET' && answer.status === 200) {
            staleCache.remember(userId, request.url, { ...answer, storedAt: Date.now() })
          }
          return reply.code(answer.status).headers(answer.headers).send(answer.body)
        } catch (err) {
          const code = (err as { code?: string }).code
          // Refusals of our own (shed, open circuit) are not upstream failures; timeouts and unreachable are.
          if (code === 'GATEWAY_ERR_UPSTREAM_TIMEOUT' || code === 'GATEWAY_ERR_UPSTREAM_UNAVAILABLE') upstreamFailed = true
          throw err
        } finally {
          opts.observe({ core, upstreamMs, upstreamFailed })
        }
      },
    })
  }
}
