/**
 * The gateway's door: at most INTAKE_LIMIT requests at a time in the gateway's own work before an upstream
 * (token verify, body, rate limits, bot score); the others wait their turn, first come first served, and are
 * refused at once only when their turn cannot come before their deadline (ADR 0032).
 *
 * Why: one event loop under a burst is processor sharing. 5,000 buyers released together were each taken
 * one step at a time (all parsed, then all verified, then all rate-limited) before any reached the order
 * service: the first order call left ~1 s after the release, every buyer's answer came at the end, and the
 * sale sold 28 of 100 units while 4,972 buyers were refused at their deadline (bench/flash-burst.ts). First
 * come first served through a bounded stage is SEDA's answer (Welsh, Culler & Brewer, "SEDA: An
 * Architecture for Well-Conditioned, Scalable Internet Services", SOSP 2001: admission control per stage):
 * the first buyers reach the order service within milliseconds, the sale sells out early, and the crowd
 * behind it is answered sold out at the edge at a fraction of the cost.
 *
 * The queue is the same limiter the upstreams use (@flashsale/resilience createAdaptiveLimit) with a fixed
 * limit: order placement and payment wait by deadline (the route's whole budget runs from arrival here),
 * other core routes and non-core routes under CoDel. A request leaves the door when it asks an upstream for
 * a slot (the upstream's own queue takes over) or when it is answered, whichever comes first.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createAdaptiveLimit, createFixedLimit, type Permit, type Priority } from '@flashsale/resilience'
import { ClientClosed, overloaded } from './errors.ts'
import type { GatewayMetrics } from './metrics.ts'

/** What a route tells the door (Fastify route `config`); routes without it are core, with the default budget. */
export interface IntakeRouteConfig {
  readonly budgetMs?: number
  readonly priority?: Priority
  /** Wait by deadline (order placement and payment) rather than under CoDel. */
  readonly byDeadline?: boolean
}

declare module 'fastify' {
  // Module augmentation: a route's `config` may carry these (typescript-eslint's rule allows no other spelling).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends IntakeRouteConfig {}
  interface FastifyRequest {
    /** When this request's answer is due, on performance.now()'s clock: arrival + the route's budget. */
    deadline: number
    /** Leaves the door (idempotent): the request is about to wait for an upstream, or was answered. */
    leaveIntake(): void
  }
}

export interface IntakeOptions {
  /** Requests at a time in the gateway's own work; 0 = no door (every request goes straight on). */
  readonly limit: number
  /** Most requests waiting at the door. */
  readonly maxQueue: number
  /** Budget of a route that states none. */
  readonly defaultBudgetMs: number
  /** Paths that never wait (health checks, metrics). */
  readonly exempt: ReadonlySet<string>
  readonly metrics: GatewayMetrics
}

const INTAKE = 'intake'
const noop = () => {}

export const intake = fp(
  async (app: FastifyInstance, { limit, maxQueue, defaultBudgetMs, exempt, metrics }: IntakeOptions) => {
    app.decorateRequest('deadline', 0)
    app.decorateRequest('leaveIntake', noop)

    const limiter =
      limit > 0
        ? createAdaptiveLimit({
            algorithm: createFixedLimit(limit),
            window: false,
            coreQueue: 'deadline',
            maxQueue,
            onDecision: (d) => {
              metrics.queueWait.observe({ upstream: INTAKE, priority: d.priority, outcome: d.admitted ? 'admitted' : 'rejected' }, d.waitedMs / 1000)
              if (!d.admitted) metrics.shed.inc({ upstream: INTAKE, priority: d.priority, reason: d.reason ?? 'limit' })
            },
          })
        : undefined
    if (limiter) metrics.watchLimiter(INTAKE, limiter)

    const hold = (request: FastifyRequest, permit: Permit) => {
      request.leaveIntake = () => {
        request.leaveIntake = noop
        permit.release()
      }
    }

    app.addHook('onRequest', (request, _reply, done) => {
      const route = (request.routeOptions.config ?? {}) as IntakeRouteConfig
      request.deadline = performance.now() + (route.budgetMs ?? defaultBudgetMs)
      if (!limiter || exempt.has(request.routeOptions.url ?? '')) return done()
      const priority = route.priority ?? 'core'
      limiter.acquire(priority, route.byDeadline ? { deadline: request.deadline } : {}).then((admission) => {
        if (admission.admitted) {
          hold(request, admission.permit)
          // The buyer left while waiting: nothing to do for nobody.
          if (request.raw.destroyed) {
            request.leaveIntake()
            return done(new ClientClosed())
          }
          return done()
        }
        done(overloaded('gateway', INTAKE, admission))
      }, done)
    })
    app.addHook('onResponse', (request, _reply, done) => {
      request.leaveIntake()
      done()
    })
    app.addHook('onRequestAbort', (request, done) => {
      request.leaveIntake()
      done()
    })
    app.addHook('onClose', (_app, done) => {
      limiter?.close()
      done()
    })
  },
  { name: 'gateway-intake', fastify: '5.x' },
)
