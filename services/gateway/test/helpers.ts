/**
 * Builds the gateway in-process on the real stack: a Redis key prefix of its own, real ES256 tokens,
 * and real upstream HTTP servers started by the test on port 0 (node:http, so a test can count hits,
 * hold requests, fail health checks, die and come back). HTTP to the gateway goes through app.inject().
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { Redis as RedisClient, type Redis } from 'ioredis'
import { createTokenIssuer, createTokenVerifier, generateSigningKeys, type TokenIssuer } from '@flashsale/auth'
import { createLogger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { createTestRedis, type TestProxy, type TestRedis } from '@flashsale/testkit'
import { buildApp } from '../src/app.ts'
import { readConfig, type Config } from '../src/config.ts'
import { BUNDLED_ROUTE_TABLE, loadRouteTable, type RouteTable, type UpstreamDefinition } from '../src/route-table.ts'

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>

export interface TestUpstream {
  readonly name: string
  readonly url: string
  /** Requests seen (health checks not counted), by "METHOD path". */
  readonly hits: Map<string, number>
  total(): number
  /** Requests being handled right now (health checks not counted). */
  inflight(): number
  /** Last request seen (headers and body), health checks not counted. */
  last(): { method: string; url: string; headers: IncomingMessage['headers']; body: string } | undefined
  setHandler(handler: Handler): void
  setHealthy(healthy: boolean): void
  /** Stops listening and drops every connection, like a dead process. */
  kill(): Promise<void>
  /** Listens again on the same port. */
  revive(): Promise<void>
}

/** Answers 200 with JSON naming the instance, unless a test sets another handler. */
export async function startUpstream(name: string): Promise<TestUpstream> {
  const hits = new Map<string, number>()
  let inflight = 0
  let healthy = true
  let last: ReturnType<TestUpstream['last']>
  let handler: Handler = (req, res) => json(res, 200, { instance: name, method: req.method, url: req.url })
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.url === '/health/ready') return json(res, healthy ? 200 : 503, { status: healthy ? 'ready' : 'not-ready' })
      const key = `${req.method} ${req.url?.split('?')[0]}`
      hits.set(key, (hits.get(key) ?? 0) + 1)
      const body = Buffer.concat(chunks).toString()
      last = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      inflight++
      res.on('close', () => inflight--)
      void Promise.resolve(handler(req, res, body)).catch(() => res.destroy())
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    hits,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
    inflight: () => inflight,
    last: () => last,
    setHandler: (h) => void (handler = h),
    setHealthy: (h) => void (healthy = h),
    async kill() {
      const closed = once(server, 'close')
      server.close()
      server.closeAllConnections()
      await closed
    },
    async revive() {
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
    },
  }
}

/**
 * The gateway's Redis client through a Toxiproxy proxy, as server.ts configures it (no offline queue, short
 * timeouts), for GatewayOptions.redis: a test disables the proxy to cut Redis off.
 */
export function redisThrough(proxy: Pick<TestProxy, 'rewrite'>): (prefix: string, url: string) => Redis {
  return (prefix, url) => {
    const client = new RedisClient(proxy.rewrite(url), {
      keyPrefix: prefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      commandTimeout: 200,
    })
    client.on('error', () => {}) // expected while the proxy is disabled; the gateway logs its own
    return client
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export interface Gateway {
  readonly app: FastifyInstance
  readonly config: Config
  readonly metrics: ProcessMetrics
  readonly redis: Redis
  readonly prefix: string
  readonly redisUrl: string
  buyerToken(userId: string): Promise<string>
  adminToken(): Promise<string>
  /** inject() with an Accept header, an optional bearer token and client address. */
  request(options: InjectOptions & { token?: string; ip?: string }): Promise<LightMyRequestResponse>
  /** The value of one metric sample in /metrics, e.g. metric('gateway_shed_total', { reason: 'shed' }); 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>
  close(): Promise<void>
}

export interface GatewayOptions {
  /** Instance URLs by upstream name (order, catalog, inventory, review); others point at a closed port. */
  readonly upstreams?: Readonly<Record<string, readonly string[]>>
  readonly balancing?: Readonly<Record<string, UpstreamDefinition['balancing']>>
  readonly env?: Record<string, string>
  /** A Redis client of the test's own (e.g. through a Toxiproxy proxy); must use `prefix` as its key prefix. */
  readonly redis?: (prefix: string, url: string) => Redis
  /** Latency budget of every route (default 10 s, so a busy machine never makes a 504). */
  readonly timeoutMs?: number
  /** The event-loop utilization the degradation sampler reads (default: the real one of this process). */
  readonly elu?: () => number
  /** Register POST /auth/demo-token (as DEMO_TOKENS_ENABLED=true would). Default true. */
  readonly demoTokens?: boolean
}

const quietLog = () =>
  createLogger({ service: 'gateway-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) })
    .logger

const NOWHERE = 'http://127.0.0.1:9'

export async function startGateway(label: string, options: GatewayOptions = {}): Promise<Gateway> {
  const testRedis: TestRedis = await createTestRedis(`gw_${label}`)
  const keys = await generateSigningKeys()
  const issuer: TokenIssuer = await createTokenIssuer(keys.privateJwk)
  const verifier = await createTokenVerifier(keys.publicJwk)
  const config = readConfig({
    AUTH_JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
    REDIS_URL: testRedis.url,
    RATE_PER_IP_PER_SECOND: '100000',
    RATE_PER_IP_BURST: '100000',
    RATE_PER_USER_PER_SECOND: '100000',
    RATE_PER_USER_BURST: '100000',
    BOT_RATE_THRESHOLD: '100000',
    HEALTH_CHECK_INTERVAL_MS: '0',
    // A loaded test machine must not turn into slow calls, timeouts or failed health checks.
    BREAKER_SLOW_CALL_MS: '60000',
    HEALTH_CHECK_TIMEOUT_MS: '5000',
    DEGRADE_TICK_MS: '0',
    ...options.env,
  })
  const bundled = loadRouteTable(BUNDLED_ROUTE_TABLE)
  const routeTable: RouteTable = {
    // Latency budgets of 10 s: no test measures speed, and a busy machine must not make a 504.
    routes: bundled.routes.map((r) => ({ ...r, timeoutMs: options.timeoutMs ?? 10_000 })),
    upstreams: Object.fromEntries(
      Object.entries(bundled.upstreams).map(([name, u]) => [
        name,
        { ...u, instances: options.upstreams?.[name] ?? [NOWHERE], balancing: options.balancing?.[name] ?? u.balancing },
      ]),
    ),
  }
  const metrics = createProcessMetrics({ service: 'gateway-test' })
  const redis = options.redis ? options.redis(testRedis.prefix, testRedis.url) : testRedis.redis
  const elu = options.elu
  const signals = elu ? { ...metrics, eventLoopUtilization: elu } : metrics
  const app = await buildApp(config, {
    logger: quietLog(),
    metrics: signals,
    redis,
    verifier,
    issuer: options.demoTokens === false ? undefined : issuer,
    routeTable,
  })
  await app.ready()

  const tokens = new Map<string, Promise<string>>()
  const token = (userId: string, admin: boolean) => {
    const key = `${admin}:${userId}`
    if (!tokens.has(key)) tokens.set(key, issuer.issue({ userId, roles: admin ? ['admin', 'buyer'] : ['buyer'] }))
    return tokens.get(key)!
  }
  return {
    app,
    config,
    metrics,
    redis,
    prefix: testRedis.prefix,
    redisUrl: testRedis.url,
    buyerToken: (userId) => token(userId, false),
    adminToken: () => token('ops', true),
    request({ token: t, ip, headers, ...rest }) {
      return app.inject({
        ...rest,
        ...(ip ? { remoteAddress: ip } : {}),
        headers: { accept: 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}), ...headers },
      })
    },
    async metric(name, labels = {}) {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
      let sum = 0
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
        // `{k="v"` or `,k="v"`: a bare `instance="x"` must not match `upstream_instance="x"`.
        if (Object.entries(labels).every(([k, v]) => line.includes(`{${k}="${v}"`) || line.includes(`,${k}="${v}"`)))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1))
      }
      return sum
    },
    async close() {
      await app.close()
      metrics.stop()
      if (redis !== testRedis.redis) redis.disconnect()
      await testRedis.cleanup()
    },
  }
}

/** Polls until `check` is true; fails after `ms` (a generous deadline, not a performance threshold). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
