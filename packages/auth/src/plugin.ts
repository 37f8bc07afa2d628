/**
 * `await app.register(authentication, { verifier })` decorates each request with `user` (or null),
 * and route options use the hooks: `{ onRequest: app.requireUser }`, `{ onRequest: app.requireAdmin }`.
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750) when the token is missing or invalid; 403 when the
 * user lacks the role. Both as problem+json with stable codes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { defineError } from '@flashsale/service-defaults'
import type { Principal, TokenVerifier } from './tokens.ts'

export const Unauthenticated = defineError('AUTH_ERR_UNAUTHENTICATED', 401, 'A valid bearer token is required: %s')
export const Forbidden = defineError('AUTH_ERR_FORBIDDEN', 403, 'This needs the %s role')

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; null when the request carried no valid token. */
    user: Principal | null
  }
  interface FastifyInstance {
    requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void>
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>
  }
}

export interface AuthenticationOptions {
  readonly verifier: TokenVerifier
}

export const authentication = fp(
  async (app: FastifyInstance, { verifier }: AuthenticationOptions) => {
    const failures = new WeakMap<FastifyRequest, string>()
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
      try {
        request.user = await verifier.verify(match[1])
      } catch (err) {
        failures.set(request, err instanceof Error ? err.message : 'invalid token')
      }
    })

    const requireUser = async (request: FastifyRequest, reply: FastifyReply) => {
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
