/**
 * The Fastify instance every service API starts from, the one way: the shared defaults (request id, health
 * and readiness, /metrics, problem+json, /openapi.json, the drain: @flashsale/service-defaults), bearer
 * tokens verified by the service itself (@flashsale/auth, ADR 0019), then the drills' fault flags
 * (@flashsale/faults: admin-only, shared by every instance through Redis, off by themselves; after the
 * token check, since they need the caller's role). A service's `buildApp` adds its own routes to it.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { authentication, type TokenVerifier } from '@flashsale/auth'
import { faultFlags } from '@flashsale/faults'
import type { Logger } from '@flashsale/logging'
import type { ProcessMetrics } from '@flashsale/metrics'
import { serviceDefaults, serviceFastifyOptions, type ServiceDefaultsOptions } from '@flashsale/service-defaults'

export interface ServiceAppOptions extends Pick<ServiceDefaultsOptions, 'dependencies' | 'readiness' | 'openapi'> {
  /** The service's name, as the fault flags address it. */
  readonly service: string
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  readonly verifier: TokenVerifier
  /** Where the fault flags are shared. */
  readonly redis: Redis
}

export async function createServiceApp({ service, logger, metrics, verifier, redis, ...defaults }: ServiceAppOptions): Promise<FastifyInstance> {
  const app = Fastify(serviceFastifyOptions(logger))
  await app.register(serviceDefaults, { metrics, ...defaults })
  await app.register(authentication, { verifier })
  await app.register(faultFlags, { service, redis, registry: metrics.registry })
  return app
}
