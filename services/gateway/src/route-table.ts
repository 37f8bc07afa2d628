/**
 * The route table's shape, its loading and its checks. The table itself is data (route-table.json, or
 * ROUTE_TABLE_FILE); a mistake in it fails boot with the route named, like a bad env var.
 */
import { readFileSync } from 'node:fs'
import { parseList } from '@flashsale/config'
import type { AlgorithmName } from '@flashsale/balancer'
import type { Priority } from '@flashsale/resilience'

export interface UpstreamDefinition {
  /** Base URLs of the instances, e.g. http://127.0.0.1:3003. */
  readonly instances: readonly string[]
  readonly balancing: AlgorithmName
  /** Optional weights for the weighted algorithms, by instance URL. */
  readonly weights?: Readonly<Record<string, number>>
}

export interface RouteDefinition {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** A Fastify route pattern; the upstream receives the same path and query. */
  readonly path: string
  readonly upstream: string
  readonly priority: Priority
  /** Latency budget for all attempts together. */
  readonly timeoutMs: number
  /** May be retried: idempotent requests only. */
  readonly retryable: boolean
  readonly auth: 'none' | 'user'
  /**
   * Order placement: the body is `{sku, qty}` and the gateway answers 409 ORDER_ERR_SOLD_OUT itself while
   * the SKU is sold out (domain/sold-out-edge.ts, ADR 0027).
   */
  readonly soldOutEdge?: boolean
  /**
   * How a core request waits for a slot when the upstream is at its limit (ADR 0026): `deadline` = first come
   * first served, refused at once only when its expected wait cannot fit `timeoutMs` (order placement and
   * payment: every buyer has the same budget); `codel` (the default) = CoDel with adaptive LIFO (reads:
   * better served fresh, or refused within 5 ms, than queued to the end of their budget).
   */
  readonly queue?: 'deadline' | 'codel'
  readonly schema?: Readonly<Record<'params' | 'querystring' | 'body' | 'headers', unknown>>
}

export interface RouteTable {
  readonly upstreams: Readonly<Record<string, UpstreamDefinition>>
  readonly routes: readonly RouteDefinition[]
}

const ALGORITHMS: readonly string[] = [
  'round-robin',
  'random',
  'ip-hash',
  'smooth-weighted-round-robin',
  'weighted-random',
  'least-connections',
  'p2c-peak-ewma',
]
const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
const IDEMPOTENT: readonly string[] = ['GET', 'PUT', 'DELETE']

export const BUNDLED_ROUTE_TABLE = new URL('./route-table.json', import.meta.url)
/** What the service behind each route answers, keyed "METHOD /path" (generated: make route-table). */
export const BUNDLED_ROUTE_RESPONSES = new URL('./route-responses.json', import.meta.url)

/** The services' responses per public route; {} when the file is absent (the document then has only the gateway's own). */
export function loadRouteResponses(file: string | URL = BUNDLED_ROUTE_RESPONSES): Readonly<Record<string, Record<string, never>>> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, never>>
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return {}
    throw err
  }
}

/** Reads and checks a route table file; `overrides` replace instance lists by upstream name. */
export function loadRouteTable(file: string | URL, overrides: Readonly<Record<string, readonly string[]>> = {}): RouteTable {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RouteTable
  const upstreams: Record<string, UpstreamDefinition> = {}
  for (const [name, u] of Object.entries(raw.upstreams ?? {})) {
    const instances = overrides[name]?.length ? overrides[name] : u.instances
    upstreams[name] = { ...u, instances }
  }
  return checkRouteTable({ upstreams, routes: raw.routes ?? [] })
}

/** The table ROUTE_TABLE_FILE names (default: the bundled one), with the instance lists of the environment. */
export function loadRouteTableFromConfig(config: {
  readonly ROUTE_TABLE_FILE: string
  readonly ORDER_URLS: string
  readonly CATALOG_URLS: string
  readonly INVENTORY_URLS: string
  readonly REVIEW_URLS: string
}): RouteTable {
  return loadRouteTable(config.ROUTE_TABLE_FILE || BUNDLED_ROUTE_TABLE, {
    order: parseList(config.ORDER_URLS),
    catalog: parseList(config.CATALOG_URLS),
    inventory: parseList(config.INVENTORY_URLS),
    review: parseList(config.REVIEW_URLS),
  })
}

/** Throws one error listing every problem; returns the table unchanged when it is sound. */
export function checkRouteTable(table: RouteTable): RouteTable {
  const problems: string[] = []
  for (const [name, u] of Object.entries(table.upstreams)) {
    if (!Array.isArray(u.instances) || u.instances.length === 0) problems.push(`upstream ${name}: needs at least one instance URL`)
    for (const url of u.instances ?? [])
      if (!/^https?:\/\/[^/]+\/?$/.test(url)) problems.push(`upstream ${name}: instance ${JSON.stringify(url)} is not an http(s) origin`)
    if (!ALGORITHMS.includes(u.balancing)) problems.push(`upstream ${name}: balancing must be one of ${ALGORITHMS.join(', ')}`)
  }
  const seen = new Set<string>()
  for (const r of table.routes) {
    const id = `${r.method} ${r.path}`
    if (seen.has(id)) problems.push(`route ${id}: defined twice`)
    seen.add(id)
    if (!METHODS.includes(r.method)) problems.push(`route ${id}: method must be one of ${METHODS.join(', ')}`)
    if (!r.path?.startsWith('/')) problems.push(`route ${id}: path must start with /`)
    if (!table.upstreams[r.upstream]) problems.push(`route ${id}: unknown upstream ${JSON.stringify(r.upstream)}`)
    if (r.priority !== 'core' && r.priority !== 'non-core') problems.push(`route ${id}: priority must be core or non-core`)
    if (!(Number.isInteger(r.timeoutMs) && r.timeoutMs > 0)) problems.push(`route ${id}: timeoutMs must be a positive integer`)
    if (r.retryable && !IDEMPOTENT.includes(r.method)) problems.push(`route ${id}: only idempotent methods may be retryable`)
    if (r.auth !== 'none' && r.auth !== 'user') problems.push(`route ${id}: auth must be none or user`)
    if (r.soldOutEdge !== undefined && typeof r.soldOutEdge !== 'boolean') problems.push(`route ${id}: soldOutEdge must be true or false`)
    if (r.queue !== undefined && r.queue !== 'deadline' && r.queue !== 'codel') problems.push(`route ${id}: queue must be deadline or codel`)
    if (r.queue === 'deadline' && r.priority !== 'core') problems.push(`route ${id}: queue deadline is for core routes`)
    if (r.soldOutEdge) {
      const body = r.schema?.body as { required?: unknown } | undefined
      const required = Array.isArray(body?.required) ? body.required : []
      if (r.method !== 'POST' || !required.includes('sku') || !required.includes('qty'))
        problems.push(`route ${id}: soldOutEdge needs a POST whose body schema requires sku and qty`)
    }
    if (r.path?.startsWith('/admin') || r.path?.startsWith('/health') || r.path === '/metrics' || r.path?.startsWith('/auth/')) {
      problems.push(`route ${id}: ${r.path} belongs to the gateway itself`)
    }
  }
  if (problems.length > 0) throw new Error(`Invalid route table:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  return table
}
