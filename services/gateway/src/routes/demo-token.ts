/**
 * POST /auth/demo-token {userId, role?} → {token}: tokens for demos and k6 runs, so a load test can act
 * as thousands of buyers. Registered only when DEMO_TOKENS_ENABLED=true; a production gateway has no
 * private key and no such route (tokens come from the identity provider). An admin token also needs the
 * x-demo-admin-secret header to equal DEMO_ADMIN_SECRET (compared in constant time).
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createTokenIssuer, type TokenIssuer } from '@flashsale/auth'
import type { Log } from '@flashsale/logging'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { DemoToken, DemoTokenBody } from '../contract.ts'
import { DemoTokensForbidden } from '../errors.ts'

/** The demo tokens' issuer when DEMO_TOKENS_ENABLED=true (it needs the private key), else undefined. */
export async function demoTokenIssuer(
  config: { readonly DEMO_TOKENS_ENABLED: boolean; readonly AUTH_JWT_PRIVATE_JWK: string },
  log: Pick<Log, 'warn'>,
): Promise<TokenIssuer | undefined> {
  if (!config.DEMO_TOKENS_ENABLED) return undefined
  if (!config.AUTH_JWT_PRIVATE_JWK) throw new Error('DEMO_TOKENS_ENABLED=true needs AUTH_JWT_PRIVATE_JWK')
  log.warn({}, 'demo token endpoint POST /auth/demo-token is ON: for demos and load tests only')
  return createTokenIssuer(JSON.parse(config.AUTH_JWT_PRIVATE_JWK))
}

export interface DemoTokenOptions {
  readonly issuer: TokenIssuer
  readonly adminSecret: string
}

const SCHEMA = {
  summary: 'A token for demos and load tests (registered only with DEMO_TOKENS_ENABLED=true)',
  tags: ['demo'],
  body: DemoTokenBody,
  response: {
    201: jsonResponse('A signed ES256 token', DemoToken),
    ...problemResponses({ 403: 'An admin token needs the x-demo-admin-secret header (GATEWAY_ERR_DEMO_ADMIN_FORBIDDEN)' }),
  },
}

function sameSecret(given: unknown, expected: string): boolean {
  if (expected.length === 0 || typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export async function demoTokenRoutes(app: FastifyInstance, { issuer, adminSecret }: DemoTokenOptions): Promise<void> {
  app.post<{ Body: { userId: string; role?: 'buyer' | 'admin'; ttlSeconds?: number } }>('/auth/demo-token', { schema: SCHEMA }, async (request, reply) => {
    const { userId, role = 'buyer', ttlSeconds = 3600 } = request.body
    if (role === 'admin' && !sameSecret(request.headers['x-demo-admin-secret'], adminSecret)) throw new DemoTokensForbidden()
    const token = await issuer.issue({ userId, roles: role === 'admin' ? ['admin', 'buyer'] : ['buyer'] }, ttlSeconds)
    return reply.code(201).send({ token, tokenType: 'Bearer', expiresIn: ttlSeconds, userId, role })
  })
}
