/**
 * Gateway throughput ÷ direct-to-service throughput on the same route, side by side in one run, with
 * nginx as a plain reverse proxy for comparison (issue 5's benchmark). The upstream is a bare Fastify app
 * (bench/fixtures/upstream.ts); the gateway runs its whole pipeline for GET /products/:id (blocklist,
 * schema check, bot score, per-IP GCRA in Redis, adaptive limit, breaker, balancer) with the rate limit
 * and the bot score's rate trigger set high enough never to refuse (one load generator on one address
 * would otherwise be throttled, as it should be). 16 connections: below the adaptive limit's starting
 * value (20), so the run measures the proxy path, not the shedding (the overload scenarios measure that).
 * Load: autocannon from this process, arms alternating, the same connections, headers and route for every
 * arm, each arm warmed up first. Only 2xx answers count as throughput (a 429 or 503 is not work done);
 * non-2xx answers are recorded per arm. The CPU each process spent per 2xx answer (from /proc, Linux) is
 * recorded too: on a shared 2-core machine it says where the time went better than req/s alone.
 *
 *   node --env-file=.local/stack.env bench/gateway-overhead.ts [--seconds 5] [--rounds 3] [--connections 16]
 *
 * A fourth arm, `bare-node-proxy` (bench/fixtures/bare-proxy.ts), is the gateway's proxy path with every
 * feature taken away: the floor any Node proxy starts from on this machine.
 *
 * Writes bench/results/gateway-overhead.json. nginx comes from Debian (nginx-light); without it that arm
 * is skipped and the result says so.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { cpuSeconds, median, startNode, startProcess, stopAll, waitUp } from './lib.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } } })
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const ROOT = join(import.meta.dirname, '..')
const env = process.env

for (const name of ['REDIS_URL', 'AUTH_JWT_PUBLIC_JWK']) {
  if (!env[name]) throw new Error(`${name} is not set: run with --env-file=.local/stack.env after make infra-up (make bench-gateway does both)`)
}

const UPSTREAM = 58_101
const GATEWAY = 58_102
const NGINX = 58_103
const BARE_PROXY = 58_104
const upstreamProcess = startNode(join(ROOT, 'bench/fixtures/upstream.ts'), [String(UPSTREAM)])
await waitUp(`http://127.0.0.1:${UPSTREAM}/health/ready`)
const gatewayProcess = startNode(join(ROOT, 'services/gateway/src/server.ts'), [], {
  PORT: String(GATEWAY),
  CATALOG_URLS: `http://127.0.0.1:${UPSTREAM}`,
  LOG_LEVEL: 'warn',
  RATE_PER_IP_PER_SECOND: '1000000000',
  RATE_PER_IP_BURST: '1000000000',
  // One load generator on one address is a bot by the gateway's rules; the score still runs, never trips.
  BOT_RATE_THRESHOLD: '1000000000',
  SHUTDOWN_DRAIN_MS: '0',
})
await waitUp(`http://127.0.0.1:${GATEWAY}/health/ready`)

// The floor of any Node proxy here: the gateway's proxy path with every feature taken away.
const bareProxyProcess = startNode(join(ROOT, 'bench/fixtures/bare-proxy.ts'), [String(BARE_PROXY), `http://127.0.0.1:${UPSTREAM}`])
await waitUp(`http://127.0.0.1:${BARE_PROXY}/health/ready`)

const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))
let nginxProcess: ChildProcess | undefined
if (nginxBin) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'))
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http { access_log off;
  upstream app { server 127.0.0.1:${UPSTREAM}; keepalive 64; }
  server { listen 127.0.0.1:${NGINX};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  )
  nginxProcess = startProcess(nginxBin, ['-c', join(dir, 'nginx.conf'), '-p', dir])
  await waitUp(`http://127.0.0.1:${NGINX}/health/ready`)
}

interface Sample {
  readonly perSecond: number
  readonly non2xx: number
  readonly errors: number
  /** CPU microseconds per 2xx answer, by process. */
  readonly cpuUsPerRequest: Record<string, number>
}

async function measure(port: number, processes: Record<string, ChildProcess | undefined>): Promise<Sample> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, cpuSeconds(p?.pid)]))
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/products/prod-000001`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { accept: 'application/json', 'user-agent': 'flashsale-bench' },
  })
  const ok = result['2xx']
  const cpuUsPerRequest: Record<string, number> = {}
  for (const [name, p] of Object.entries(processes)) {
    const [a, b] = [before[name], cpuSeconds(p?.pid)]
    if (a !== undefined && b !== undefined && ok > 0) cpuUsPerRequest[name] = Math.round(((b - a) * 1e6) / ok)
  }
  if (result.non2xx > 0 || result.errors > 0) console.warn(`:${port} answered ${result.non2xx} non-2xx and ${result.errors} errors (not counted)`)
  // Only 2xx answers are throughput: a 429 or a 503 is cheap to make and is not the work being measured.
  return { perSecond: ok / result.duration, non2xx: result.non2xx, errors: result.errors, cpuUsPerRequest }
}

const arms: [string, number, Record<string, ChildProcess | undefined>][] = [
  ['direct', UPSTREAM, { upstream: upstreamProcess }],
  ['gateway', GATEWAY, { upstream: upstreamProcess, gateway: gatewayProcess }],
  ['bare-node-proxy', BARE_PROXY, { upstream: upstreamProcess, proxy: bareProxyProcess }],
  ...(nginxBin ? ([['nginx', NGINX, { upstream: upstreamProcess, nginx: nginxProcess }]] as [string, number, Record<string, ChildProcess | undefined>][]) : []),
]
const samples: Record<string, Sample[]> = Object.fromEntries(arms.map(([name]) => [name, []]))
for (const [, port, processes] of arms) await measure(port, processes) // warm-up: JIT, connection pools, Redis scripts
for (let r = 0; r < ROUNDS; r++) for (const [name, port, processes] of arms) samples[name]?.push(await measure(port, processes))
stopAll()

const throughput = Object.fromEntries(arms.map(([name]) => [name, Math.round(median((samples[name] ?? []).map((x) => x.perSecond)))]))
// Per arm and process: the median CPU microseconds per 2xx answer over the rounds.
const cpuUsPerRequest = Object.fromEntries(
  arms.map(([name, , processes]) => [name, Object.fromEntries(Object.keys(processes).map((p) => [p, median((samples[name] ?? []).flatMap((x) => (x.cpuUsPerRequest[p] === undefined ? [] : [x.cpuUsPerRequest[p]!])))]))]),
)
const ratio = Math.round(((throughput['gateway'] ?? 0) / (throughput['direct'] ?? 1)) * 100) / 100
const result = {
  case: 'gateway-overhead',
  date: new Date().toISOString(),
  unit: 'requests/s',
  cores: availableParallelism(),
  seconds: SECONDS,
  rounds: ROUNDS,
  connections: CONNECTIONS,
  throughput,
  samples: Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, xs.map((x) => Math.round(x.perSecond))])),
  non2xx: Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, xs.reduce((n, x) => n + x.non2xx + x.errors, 0)])),
  cpuUsPerRequest,
  ratio,
  goal: 0.7,
  nginxRatio: throughput['nginx'] ? Math.round((throughput['nginx'] / (throughput['direct'] ?? 1)) * 100) / 100 : null,
  bareNodeProxyRatio: Math.round(((throughput['bare-node-proxy'] ?? 0) / (throughput['direct'] ?? 1)) * 100) / 100,
  machine: `${availableParallelism()} cores shared by the load generator, the proxy, the upstream (and Redis for the gateway); the ratio is the result. CPU per 2xx answer: ${Object.entries(cpuUsPerRequest)
    .map(([arm, byProcess]) => `${arm} ${Object.entries(byProcess).map(([p, us]) => `${p} ${us} µs`).join(' + ')}`)
    .join('; ')}`,
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
writeFileSync(join(ROOT, 'bench/results/gateway-overhead.json'), `${JSON.stringify(result, null, 2)}\n`)
console.log(`direct ${throughput['direct']} req/s, gateway ${throughput['gateway']} req/s (ratio ${ratio}, goal >= 0.7), bare Node proxy ${throughput['bare-node-proxy']} req/s (ratio ${result.bareNodeProxyRatio})${throughput['nginx'] ? `, nginx ${throughput['nginx']} req/s (ratio ${result.nginxRatio})` : ', nginx not installed'}`)
