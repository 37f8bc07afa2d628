/**
 * The edge must agree with the services behind it: every public route of the gateway's route table
 * (services/gateway/src/route-table.json) validates input as the service that serves it does. A gateway
 * schema that is narrower refuses what the service documents (the gateway refused `sort`/`order` on
 * GET /products, and a review's `body`); one that is looser lets through what the service refuses with a
 * less helpful answer (review pages of 51-100). Run by `make check`; exits 1 naming every mismatch.
 *
 * The services' schemas are read from their own route plugins, registered on a bare Fastify instance that
 * records each route's schema (`onRoute`): the plugins only touch their dependencies inside handlers.
 *
 *   node scripts/check-route-table.ts
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { ProblemSchema } from '@flashsale/service-defaults'
import { BUNDLED_ROUTE_RESPONSES as ROUTE_RESPONSES, BUNDLED_ROUTE_TABLE, loadRouteTable } from '../services/gateway/src/route-table.ts'

type Json = Record<string, unknown>
export type Location = 'querystring' | 'body' | 'params'
const LOCATIONS: readonly Location[] = ['querystring', 'body', 'params']

export interface RouteSchemas {
  readonly method: string
  readonly path: string
  readonly upstream: string
  readonly schema: Partial<Record<Location, Json>>
  /** The route's responses as its contract declares them (services only). */
  readonly response?: Json
}

/** Each upstream's route plugins, as its app.ts registers them (options are only read inside handlers). */
export async function servicePlugins(): Promise<Record<string, FastifyPluginAsync<never>[]>> {
  const [catalogProducts, catalogAdmin, catalogSales, invReservations, invAdminReservations, invSales, invAdminSales, orders, payments, history, dlq, reviews] =
    await Promise.all([
      import('../services/catalog/src/routes/products.ts'),
      import('../services/catalog/src/routes/admin-products.ts'),
      import('../services/catalog/src/routes/sales.ts'),
      import('../services/inventory/src/routes/reservations.ts'),
      import('../services/inventory/src/routes/admin-reservations.ts'),
      import('../services/inventory/src/routes/sales.ts'),
      import('../services/inventory/src/routes/admin-sales.ts'),
      import('../services/order/src/routes/orders.ts'),
      import('../services/order/src/routes/payments.ts'),
      import('../services/order/src/routes/history.ts'),
      import('../services/order/src/routes/admin-dlq.ts'),
      import('../services/review/src/routes/reviews.ts'),
    ])
  const plugins = (...ps: unknown[]) => ps as FastifyPluginAsync<never>[]
  return {
    catalog: plugins(catalogProducts.productRoutes, catalogAdmin.adminProductRoutes, catalogSales.saleRoutes),
    inventory: plugins(invReservations.reservationRoutes, invAdminReservations.adminReservationRoutes, invSales.saleRoutes, invAdminSales.adminSaleRoutes),
    order: plugins(orders.orderRoutes, payments.paymentRoutes, history.historyRoutes, dlq.adminDlqRoutes),
    review: plugins(reviews.reviewRoutes),
  }
}

/** Every route each service registers, with its input schemas. */
export async function serviceRoutes(): Promise<RouteSchemas[]> {
  const routes: RouteSchemas[] = []
  for (const [upstream, plugins] of Object.entries(await servicePlugins())) {
    const app = Fastify()
    app.addSchema(ProblemSchema) // what serviceDefaults adds: the error answers refer to it
    app.decorate('requireUser', async () => {})
    app.decorate('requireAdmin', async () => {})
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) {
        if (method === 'HEAD') continue
        const response = (r.schema as Json | undefined)?.['response'] as Json | undefined
        routes.push({ method, path: r.url, upstream, schema: pick(r.schema as Json | undefined), ...(response ? { response } : {}) })
      }
    })
    for (const plugin of plugins) await app.register(plugin, {} as never)
    await app.ready()
    await app.close()
  }
  return routes
}

/** The gateway's public routes, from its route table, loaded and checked as the gateway loads it at boot. */
export function gatewayRoutes(file: string | URL = BUNDLED_ROUTE_TABLE): RouteSchemas[] {
  return loadRouteTable(file).routes.map((r) => ({ method: r.method, path: r.path, upstream: r.upstream, schema: pick(r.schema as Json | undefined) }))
}

function pick(schema: Json | undefined): Partial<Record<Location, Json>> {
  const out: Partial<Record<Location, Json>> = {}
  for (const l of LOCATIONS) if (schema?.[l]) out[l] = schema[l] as Json
  return out
}

/** Every way the gateway's input schemas disagree with the services': one line each. */
export function compareRoutes(gateway: readonly RouteSchemas[], services: readonly RouteSchemas[]): string[] {
  const problems: string[] = []
  for (const g of gateway) {
    const where = `${g.method} ${g.path}`
    const s = services.find((x) => x.upstream === g.upstream && x.method === g.method && x.path === g.path)
    if (!s) {
      problems.push(`${where}: ${g.upstream} has no such route`)
      continue
    }
    for (const l of LOCATIONS) {
      const gs = g.schema[l]
      const ss = s.schema[l]
      if (!ss && !gs) continue
      if (!ss || !gs) {
        // A location only the service validates is fine when it is `params` (the gateway's path patterns are
        // its own guard); otherwise one side checks what the other does not.
        if (l !== 'params') problems.push(`${where} ${l}: ${gs ? 'only the gateway' : 'only the service'} declares a schema`)
        continue
      }
      problems.push(...compareObjects(`${where} ${l}`, gs, ss, l))
    }
  }
  return problems
}

function compareObjects(where: string, g: Json, s: Json, location: Location): string[] {
  const problems: string[] = []
  const gp = (g['properties'] ?? {}) as Record<string, Json>
  const sp = (s['properties'] ?? {}) as Record<string, Json>
  for (const name of Object.keys(sp))
    if (!(name in gp) && location !== 'params') problems.push(`${where}: the service accepts '${name}', the gateway refuses it`)
  for (const name of Object.keys(gp)) if (!(name in sp)) problems.push(`${where}: the gateway accepts '${name}', the service does not know it`)
  const greq = new Set((g['required'] ?? []) as string[])
  // A required property with a default is filled in when absent (Ajv's useDefaults): optional to the client.
  const sreq = new Set(
    ((s['required'] ?? []) as string[]).filter((name) => !('default' in ((s['properties'] as Record<string, Json> | undefined)?.[name] ?? {}))),
  )
  for (const name of sreq)
    if (!greq.has(name) && location !== 'params') problems.push(`${where}: '${name}' is required by the service, optional at the gateway`)
  for (const name of greq) if (!sreq.has(name)) problems.push(`${where}: '${name}' is required by the gateway, optional at the service`)
  for (const name of Object.keys(gp)) {
    const a = gp[name]!
    const b = sp[name]
    if (!b) continue
    for (const key of ['minimum', 'minLength', 'minItems'] as const) {
      if (typeof b[key] === 'number' && (typeof a[key] !== 'number' || a[key] < b[key]))
        problems.push(`${where} '${name}': ${key} ${String(a[key] ?? 'none')} at the gateway, ${b[key]} at the service`)
    }
    for (const key of ['maximum', 'maxLength', 'maxItems'] as const) {
      if (typeof b[key] === 'number' && (typeof a[key] !== 'number' || a[key] > b[key]))
        problems.push(`${where} '${name}': ${key} ${String(a[key] ?? 'none')} at the gateway, ${b[key]} at the service`)
    }
    const av = allowed(a)
    const bv = allowed(b)
    if (bv && (!av || av.some((v) => !bv.includes(v)) || bv.some((v) => !av.includes(v)))) {
      problems.push(`${where} '${name}': values ${JSON.stringify(av ?? 'any')} at the gateway, ${JSON.stringify(bv)} at the service`)
    }
    if ((typeof b['pattern'] === 'string' || typeof a['pattern'] === 'string') && a['pattern'] !== b['pattern'])
      problems.push(
        `${where} '${name}': pattern ${JSON.stringify(a['pattern'] ?? 'none')} at the gateway, ${JSON.stringify(b['pattern'] ?? 'none')} at the service`,
      )
    if (typeOf(a) !== typeOf(b)) problems.push(`${where} '${name}': type ${typeOf(a)} at the gateway, ${typeOf(b)} at the service`)
  }
  return problems
}

/** The values an enum, a const or a union of consts allows; undefined when it is open. */
function allowed(schema: Json): unknown[] | undefined {
  if (Array.isArray(schema['enum'])) return schema['enum'] as unknown[]
  if ('const' in schema) return [schema['const']]
  const union = (schema['anyOf'] ?? schema['oneOf']) as Json[] | undefined
  if (Array.isArray(union) && union.every((x) => 'const' in x)) return union.map((x) => x['const'])
  return undefined
}

function typeOf(schema: Json): string {
  if (typeof schema['type'] === 'string') return schema['type']
  const union = (schema['anyOf'] ?? schema['oneOf']) as Json[] | undefined
  const types = new Set(union?.map((x) => x['type']))
  return types.size === 1 ? String([...types][0]) : 'mixed'
}

/**
 * What the service behind each public route answers, as its contract declares it, keyed "METHOD /path": the
 * gateway's OpenAPI document describes each proxied route with these (services/gateway/src/contract.ts).
 * Plain JSON (TypeBox's symbols dropped), in route table order.
 */
export function routeResponses(gateway: readonly RouteSchemas[], services: readonly RouteSchemas[]): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const g of gateway) {
    const s = services.find((x) => x.upstream === g.upstream && x.method === g.method && x.path === g.path)
    if (s?.response) out[`${g.method} ${g.path}`] = JSON.parse(JSON.stringify(s.response)) as Json
  }
  return out
}

if (import.meta.main) {
  const gateway = gatewayRoutes()
  const services = await serviceRoutes()
  const problems = compareRoutes(gateway, services)
  for (const g of gateway) {
    if (!services.find((x) => x.upstream === g.upstream && x.method === g.method && x.path === g.path)?.response)
      problems.push(`${g.method} ${g.path}: the ${g.upstream} service's contract declares no responses for it`)
  }
  const responses = `${JSON.stringify(routeResponses(gateway, services), null, 2)}\n`
  const current = existsSync(ROUTE_RESPONSES) ? readFileSync(ROUTE_RESPONSES, 'utf8') : ''
  if (process.argv.includes('--write')) {
    if (responses !== current) writeFileSync(ROUTE_RESPONSES, responses)
    console.log(`route table: wrote ${fileURLToPath(ROUTE_RESPONSES)}`)
  } else if (responses !== current) {
    problems.push(`${fileURLToPath(ROUTE_RESPONSES)} is not what the services' contracts declare (run: make route-table)`)
  }
  if (problems.length > 0) {
    console.error(
      `the gateway's route table disagrees with the services (services/gateway/src/route-table.json):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    )
    console.error('how to fix: make each gateway schema accept exactly what the service behind it accepts')
    process.exit(1)
  }
  console.log(`route table: ${gateway.length} gateway routes agree with the services' schemas`)
}
