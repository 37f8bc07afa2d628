/**
 * The OpenAPI 3.1 documents, generated from the code and kept in docs/openapi/: each service's (its routes'
 * contracts, registered as its app registers them: scripts/check-route-table.ts servicePlugins) and the
 * gateway's public one (its route table with what the services answer, route-responses.json, and its own
 * routes). Each running process serves the same document at GET /openapi.json; the gateway's test checks
 * that its live document is this one.
 *
 *   node scripts/openapi.ts --write    (make openapi) write docs/openapi/<name>.json
 *   node scripts/openapi.ts            (make check) exit 1 naming every document that is stale
 *
 * Linted by @redocly/cli (redocly.yaml) in make check.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Redis } from 'ioredis'
import { authentication } from '@flashsale/auth'
import { faultFlags } from '@flashsale/faults'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics } from '@flashsale/metrics'
import { serviceDefaults, serviceFastifyOptions, type OpenApiInfo } from '@flashsale/service-defaults'
import { OPENAPI_INFO as GATEWAY_INFO } from '../services/gateway/src/contract.ts'
import { loadRouteResponses, loadRouteTable, BUNDLED_ROUTE_TABLE } from '../services/gateway/src/route-table.ts'
import { adminRoutes } from '../services/gateway/src/routes/admin.ts'
import { adminWaitingRoomRoutes } from '../services/gateway/src/routes/admin-waiting-rooms.ts'
import { demoTokenRoutes } from '../services/gateway/src/routes/demo-token.ts'
import { proxyRoutes } from '../services/gateway/src/routes/proxy.ts'
import { waitingRoomRoutes } from '../services/gateway/src/routes/waiting-room.ts'
import { servicePlugins } from './check-route-table.ts'

const DIR = new URL('../docs/openapi/', import.meta.url)

/** Redis as the fault flags plugin sees it while nothing is served: no flags. */
const noRedis = { hgetall: async () => ({}), hdel: async () => 0, hset: async () => 0 } as unknown as Redis

/** A bare app as a service builds it (service defaults with its document, auth decorators, fault flags), before its routes. */
async function bareApp(service: string, info: OpenApiInfo): Promise<FastifyInstance> {
  const metrics = createProcessMetrics({ service })
  const app = Fastify(serviceFastifyOptions(createLogger({ service, level: 'silent' }).logger))
  await app.register(serviceDefaults, { metrics, openapi: info })
  await app.register(authentication, { verifier: { verify: () => Promise.reject(new Error('no tokens here')) } })
  await app.register(faultFlags, { service, redis: noRedis, registry: metrics.registry })
  return app
}

async function documentOf(app: FastifyInstance): Promise<string> {
  await app.ready()
  const doc = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  return doc
}

/** Every document, by name. */
export async function documents(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const plugins = await servicePlugins()
  const infos = await serviceInfos()
  for (const [name, list] of Object.entries(plugins)) {
    const app = await bareApp(name, infos[name]!)
    for (const plugin of list) await app.register(plugin as FastifyPluginAsync<never>, {} as never)
    out[name] = await documentOf(app)
  }
  // The gateway: its own routes, then the route table's (handlers never run here).
  const gateway = await bareApp('gateway', GATEWAY_INFO)
  const table = loadRouteTable(BUNDLED_ROUTE_TABLE)
  const stub = {} as never
  await gateway.register(adminRoutes, { blocklist: stub, degradation: stub, upstreams: new Map() })
  await gateway.register(demoTokenRoutes, { issuer: stub, adminSecret: '' })
  await gateway.register(waitingRoomRoutes, { rooms: stub, funnel: stub, soldOut: stub, metrics: stub })
  await gateway.register(adminWaitingRoomRoutes, { rooms: stub, inventory: stub, passTtlSeconds: 1 })
  await gateway.register(proxyRoutes, {
    routes: table.routes,
    serviceResponses: loadRouteResponses(),
    upstreams: new Map(Object.keys(table.upstreams).map((name) => [name, stub])),
    funnel: stub,
    degradation: stub,
    staleCache: stub,
    soldOut: stub,
    invalidToken: () => undefined,
    metrics: stub,
    observe: () => {},
  })
  out['gateway'] = await documentOf(gateway)
  return out
}

/** Each service's title and description, from its contract. */
async function serviceInfos(): Promise<Record<string, OpenApiInfo>> {
  const [catalog, inventory, order, review] = await Promise.all([
    import('../services/catalog/src/contract.ts'),
    import('../services/inventory/src/contract.ts'),
    import('../services/order/src/contract.ts'),
    import('../services/review/src/contract.ts'),
  ])
  return { catalog: catalog.OPENAPI_INFO, inventory: inventory.OPENAPI_INFO, order: order.OPENAPI_INFO, review: review.OPENAPI_INFO }
}

if (import.meta.main) {
  const docs = await documents()
  const stale: string[] = []
  if (process.argv.includes('--write')) mkdirSync(DIR, { recursive: true })
  for (const [name, doc] of Object.entries(docs)) {
    const file = new URL(`${name}.json`, DIR)
    const current = existsSync(file) ? readFileSync(file, 'utf8') : ''
    if (process.argv.includes('--write')) {
      if (doc !== current) writeFileSync(file, doc)
    } else if (doc !== current) stale.push(`docs/openapi/${name}.json`)
  }
  if (stale.length > 0) {
    console.error(`OpenAPI documents that no longer match the code: ${stale.join(', ')}\nhow to fix: make openapi (and commit the result)`)
    process.exit(1)
  }
  console.log(
    process.argv.includes('--write')
      ? `openapi: wrote docs/openapi/{${Object.keys(docs).join(',')}}.json`
      : `openapi: ${Object.keys(docs).length} documents match the code`,
  )
  process.exit(0)
}
