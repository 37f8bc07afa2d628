/**
 * POST /auth/demo-token {userId, role?} → {token}: tokens for demos and k6 runs, so a load test can act
 * as thousands of buyers. Registered only when DEMO_TOKENS_ENABLED=true; a production gateway has no
 * private key and no such route (tokens come from the identity provider). An admin token also needs the
 * x-demo-admin-secret header to equal DEMO_ADMIN_SECRET (compared in constant time).
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { TokenIssuer } from '@flashsale/auth'
import { DemoTokensForbidden } from '../errors.ts'

export interface DemoTokenOptions {
  readonly issuer: TokenIssuer
  readonly adminSecret: string
}

const Body = {
  type: 'object',
  additionalProperties: false,
  required: ['userId'],
  properties: {
    userId: { type: 'string', pattern: '^[\\w.:@-]{1,64}$' },
    role: { type: 'string', enum: ['buyer', 'admin'] },
    ttlSeconds: { type: 'integer', minimum: 60, maximum: 86_400 },
  },
} as const

function sameSecret(given: unknown, expected: string): boolean {
  if (expected.length === 0 || typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export async function demoTokenRoutes(app: FastifyInstance, { issuer, adminSecret }: DemoTokenOptions): Promise<void> {
  app.post<{ Body: { userId: string; role?: 'buyer' | 'admin'; ttlSeconds?: number } }>(
    '/auth/demo-token',
    { schema: { body: Body } },
    async (request, reply) => {
      const { userId, role = 'buyer', ttlSeconds = 3600 } = request.body
      if (role === 'admin' && !sameSecret(request.headers['x-demo-admin-secret'], adminSecret)) throw new DemoTokensForbidden()
      const token = await issuer.issue({ userId, roles: role === 'admin' ? ['admin', 'buyer'] : ['buyer'] }, ttlSeconds)
      return reply.code(201).send({ token, tokenType: 'Bearer', expiresIn: ttlSeconds, userId, role })
    },
  )
}
