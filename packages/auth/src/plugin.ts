/**
 * `await app.register(authentication, { verifier })` decorates each request with `user` (or null),
 * and route options use the hooks: `{ onRequest: app.requireUser }`, `{ onRequest: app.requireAdmin }`.
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750) when the token is missing or invalid; 403 when the
 * user lacks the role. Both as problem+json with stable codes.
 *
 * A route whose `config` has `authenticateLate: true` gets only the cheap part at onRequest (the header's
 * shape); the signature is checked when the route asks, `await app.authenticate(request)` (requireUser and
 * requireAdmin ask too). For a route that can answer some requests without knowing who asks, such as the
 * gateway's sold out at the edge: an ES256 verify is the costliest step of a request, and a sale's crowd
 * after its last unit needs none.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { defineError } from '@flashsale/service-defaults'
import type { Principal, TokenVerifier } from './tokens.ts'

export const Unauthenticated = defineError('AUTH_ERR_UNAUTHENTICATED', 401, 'A valid bearer token is required: %s')
export const Forbidden = defineError('AUTH_ERR_FORBIDDEN', 403, 'This needs the %s role')
/** The codes this package answers, for a service's contract. */
export const AUTH_ERROR_CODES = [Unauthenticated.code, Forbidden.code] as const

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; null when the request carried no valid token. */
    user: Principal | null
  }
  interface FastifyInstance {
    requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void>
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** Verifies the token of a route with `authenticateLate` now (a no-op once done, or for other routes). */
    authenticate(request: FastifyRequest): Promise<void>
  }
  // Module augmentation: a route's `config` may carry these (typescript-eslint's rule allows no other spelling).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends AuthRouteConfig {}
}

/** Route `config` understood by the authentication plugin. */
export interface AuthRouteConfig {
  readonly authenticateLate?: boolean
}

export interface AuthenticationOptions {
  readonly verifier: TokenVerifier
}

export const authentication = fp(
  async (app: FastifyInstance, { verifier }: AuthenticationOptions) => {
    const failures = new WeakMap<FastifyRequest, string>()
    // Tokens of authenticateLate routes, shape checked, signature not yet.
    const pending = new WeakMap<FastifyRequest, string>()
    app.decorateRequest('user', null)

    app.addHook('onRequest', async (request) => {
      const header = request.headers.authorization
      if (!header) return
      // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are the same scheme.
      const match = /^bearer +([\w-]+\.[\w-]+\.[\w-]+)$/i.exec(header)
      if (!match?.[1]) {
        failures.set(request, 'the Authorization header is not "Bearer <jwt>"')
        return
      }
      if ((request.routeOptions.config as AuthRouteConfig | undefined)?.authenticateLate) {
        pending.set(request, match[1])
        return
      }
      await verify(request, match[1])
    })

    async function verify(request: FastifyRequest, token: string): Promise<void> {
      try {
        request.user = await verifier.verify(token)
      } catch (err) {
        failures.set(request, err instanceof Error ? err.message : 'invalid token')
      }
    }
    const authenticate = async (request: FastifyRequest) => {
      const token = pending.get(request)
      if (token === undefined) return
      pending.delete(request)
      await verify(request, token)
    }
    app.decorate('authenticate', authenticate)

    const requireUser = async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticate(request)
      if (request.user) return
      reply.header('www-authenticate', 'Bearer realm="flashsale"')
      throw new Unauthenticated(failures.get(request) ?? 'none was sent')
    }
    app.decorate('requireUser', requireUser)
    app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
      await requireUser(request, reply)
      if (!request.user?.roles.includes('admin')) throw new Forbidden('admin')
    })
  },
  { name: '@flashsale/auth', fastify: '5.x', dependencies: ['@flashsale/service-defaults'] },
)
