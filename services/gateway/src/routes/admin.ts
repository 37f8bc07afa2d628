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
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { BlocklistAnswer, BlocklistChange, CidrBody, DegradationState, ModeBody, Upstreams } from '../contract.ts'
import { BlocklistUnavailable, InvalidCidr } from '../errors.ts'
import type { Upstream } from '../upstream/upstream.ts'

export interface AdminRoutesOptions {
  readonly blocklist: Blocklist
  readonly degradation: Degradation
  readonly upstreams: ReadonlyMap<string, Upstream>
}

const ADMIN = { 401: 'No valid bearer token', 403: 'The token lacks the admin role' }
const tags = ['gateway admin']
const SCHEMAS = {
  blocklist: {
    summary: 'The CIDR ranges in force',
    tags,
    response: { 200: jsonResponse('The blocklist', BlocklistAnswer), ...problemResponses(ADMIN, { validates: false }) },
  },
  block: {
    summary: 'Blocks an address or range (shared by every instance through Redis)',
    tags,
    body: CidrBody,
    response: {
      201: jsonResponse('Blocked', BlocklistChange),
      ...problemResponses({ ...ADMIN, 400: 'Not an IP address or CIDR range', 503: 'Redis did not answer' }),
    },
  },
  unblock: {
    summary: 'Unblocks an address or range',
    tags,
    querystring: CidrBody,
    response: {
      200: jsonResponse('Unblocked', BlocklistChange),
      ...problemResponses({ ...ADMIN, 400: 'Not an IP address or CIDR range', 503: 'Redis did not answer' }),
    },
  },
  degradation: {
    summary: 'Degradation mode and state',
    tags,
    response: { 200: jsonResponse('The state', DegradationState), ...problemResponses(ADMIN, { validates: false }) },
  },
  setMode: {
    summary: 'Sets the degradation mode (auto, or a manual on/off)',
    tags,
    body: ModeBody,
    response: { 200: jsonResponse('The new state', DegradationState), ...problemResponses(ADMIN) },
  },
  upstreams: {
    summary: 'Instances, ejections, breaker and limit per upstream',
    tags,
    response: { 200: jsonResponse('A snapshot per upstream', Upstreams), ...problemResponses(ADMIN, { validates: false }) },
  },
}

export async function adminRoutes(app: FastifyInstance, { blocklist, degradation, upstreams }: AdminRoutesOptions): Promise<void> {
  const edit = async (fn: () => Promise<string>) => {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidCidr(err.message)
      throw new BlocklistUnavailable()
    }
  }

  app.get('/admin/blocklist', { onRequest: app.requireAdmin, schema: SCHEMAS.blocklist }, async () => ({ cidrs: blocklist.list() }))
  app.post<{ Body: { cidr: string } }>('/admin/blocklist', { onRequest: app.requireAdmin, schema: SCHEMAS.block }, async (request, reply) => {
    const cidr = await edit(() => blocklist.add(request.body.cidr))
    request.log.warn({ cidr, by: request.user?.userId }, 'blocklist: added')
    return reply.code(201).send({ cidr, cidrs: blocklist.list() })
  })
  app.delete<{ Querystring: { cidr: string } }>('/admin/blocklist', { onRequest: app.requireAdmin, schema: SCHEMAS.unblock }, async (request) => {
    const cidr = await edit(() => blocklist.remove(request.query.cidr))
    request.log.warn({ cidr, by: request.user?.userId }, 'blocklist: removed')
    return { cidr, cidrs: blocklist.list() }
  })

  app.get('/admin/degradation', { onRequest: app.requireAdmin, schema: SCHEMAS.degradation }, async () => degradation.state())
  app.post<{ Body: { mode: DegradationMode } }>('/admin/degradation', { onRequest: app.requireAdmin, schema: SCHEMAS.setMode }, async (request) => {
    const state = degradation.setMode(request.body.mode)
    request.log.warn({ ...state, by: request.user?.userId }, 'degradation mode set by hand')
    return state
  })

  app.get('/admin/upstreams', { onRequest: app.requireAdmin, schema: SCHEMAS.upstreams }, async () =>
    Object.fromEntries([...upstreams].map(([name, u]) => [name, u.snapshot()])),
  )
}
