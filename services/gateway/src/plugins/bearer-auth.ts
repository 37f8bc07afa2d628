/**
 * The gateway's token check, as a Fastify plugin: the bearer token is verified here too (services verify it
 * again: ADR 0019), and a token that is present but invalid is refused on every route, so a forged one never
 * reaches a service. Routes that authenticate late (proxy.ts: after the sold-out edge has had its say) refuse it
 * themselves with `app.invalidToken`. Verified tokens are cached by the token string until their exp (ADR 0022):
 * an ES256 verify per request was the costliest step of an authenticated request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { authentication, createCachingVerifier, type AuthRouteConfig, type TokenVerifier } from '@flashsale/auth'
import { InvalidToken } from '../errors.ts'
import type { GatewayMetrics } from '../metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The refusal of a token that was sent and did not verify, or undefined when there is none to refuse. */
    invalidToken(request: FastifyRequest, reply: FastifyReply): Error | undefined
  }
}

export interface BearerAuthOptions {
  readonly verifier: TokenVerifier
  readonly metrics: GatewayMetrics
  readonly cache: { readonly maxEntries: number; readonly maxTtlMs: number }
}

export const bearerAuth = fp(
  async (app: FastifyInstance, { verifier, metrics, cache }: BearerAuthOptions) => {
    const cached = createCachingVerifier(verifier, { ...cache, onResult: (result) => metrics.tokenVerifications.inc({ result }) })
    await app.register(authentication, { verifier: cached })
    const invalidToken = (request: FastifyRequest, reply: FastifyReply): Error | undefined => {
      if (request.headers.authorization === undefined || request.user) return undefined
      metrics.authRejected.inc({ reason: 'invalid_token' })
      reply.header('www-authenticate', 'Bearer realm="flashsale", error="invalid_token"')
      return new InvalidToken('signature, issuer, audience or expiry did not verify')
    }
    app.decorate('invalidToken', invalidToken)
    app.addHook('onRequest', (request, reply, done) => {
      if ((request.routeOptions.config as AuthRouteConfig | undefined)?.authenticateLate) return done()
      done(invalidToken(request, reply))
    })
  },
  { name: 'gateway-bearer-auth', fastify: '5.x' },
)
