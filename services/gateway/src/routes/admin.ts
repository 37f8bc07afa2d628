/**
 * Admin endpoints of the gateway itself (admin bearer token required):
 *   GET    /admin/blocklist                  the CIDR ranges in force
 *   POST   /admin/blocklist   {cidr}         block an address or range (shared through Redis)
 *   DELETE /admin/blocklist?cidr=...         unblock it
 *   GET    /admin/degradation                mode and state
 *   POST   /admin/degradation {mode}         auto | on | off (manual override)
 *   GET    /admin/upstreams                  instances, ejections, breaker and limit per upstream
 */
import type { FastifyInstance } from 'fastify'
import type { Blocklist } from '../domain/blocklist.ts'
import type { Degradation, DegradationMode } from '../domain/degradation.ts'
import { BlocklistUnavailable, InvalidCidr } from '../errors.ts'
import type { Upstream } from '../upstream/upstream.ts'

export interface AdminRoutesOptions {
  readonly blocklist: Blocklist
  readonly degradation: Degradation
  readonly upstreams: ReadonlyMap<string, Upstream>
}

const CidrBody = {
  type: 'object',
  additionalProperties: false,
  required: ['cidr'],
  properties: { cidr: { type: 'string', minLength: 2, maxLength: 64 } },
} as const
const CidrQuery = CidrBody
const ModeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: { mode: { type: 'string', enum: ['auto', 'on', 'off'] } },
} as const

export async function adminRoutes(app: FastifyInstance, { blocklist, degradation, upstreams }: AdminRoutesOptions): Promise<void> {
  const edit = async (fn: () => Promise<string>) => {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidCidr(err.message)
      throw new BlocklistUnavailable()
    }
  }

  app.get('/admin/blocklist', { onRequest: app.requireAdmin }, async () => ({ cidrs: blocklist.list() }))
  app.post<{ Body: { cidr: string } }>('/admin/blocklist', { onRequest: app.requireAdmin, schema: { body: CidrBody } }, async (request, reply) => {
    const cidr = await edit(() => blocklist.add(request.body.cidr))
    request.log.warn({ cidr, by: request.user?.userId }, 'blocklist: added')
    return reply.code(201).send({ cidr, cidrs: blocklist.list() })
  })
  app.delete<{ Querystring: { cidr: string } }>('/admin/blocklist', { onRequest: app.requireAdmin, schema: { querystring: CidrQuery } }, async (request) => {
    const cidr = await edit(() => blocklist.remove(request.query.cidr))
    request.log.warn({ cidr, by: request.user?.userId }, 'blocklist: removed')
    return { cidr, cidrs: blocklist.list() }
  })

  app.get('/admin/degradation', { onRequest: app.requireAdmin }, async () => degradation.state())
  app.post<{ Body: { mode: DegradationMode } }>('/admin/degradation', { onRequest: app.requireAdmin, schema: { body: ModeBody } }, async (request) => {
    const state = degradation.setMode(request.body.mode)
    request.log.warn({ ...state, by: request.user?.userId }, 'degradation mode set by hand')
    return state
  })

  app.get('/admin/upstreams', { onRequest: app.requireAdmin }, async () => Object.fromEntries([...upstreams].map(([name, u]) => [name, u.snapshot()])))
}
