/**
 * Gateway throughput ÷ direct-to-service throughput on the same route, side by side in one run, with
 * nginx as a plain reverse proxy for comparison (goal >= 0.7×, docs/benchmarks.md). The upstream is a bare Fastify app
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
import type autocannon from 'autocannon'
import { ratioOf, requireEnv, runArms, startNode, startProcess, stopAll, waitUp, type Watched } from './lib.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const ROOT = join(import.meta.dirname, '..')
requireEnv(['REDIS_URL', 'AUTH_JWT_PUBLIC_JWK'], 'run with --env-file=.local/stack.env after make infra-up (make bench-gateway does both)')

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

const get = (port: number): autocannon.Options => ({
  url: `http://127.0.0.1:${port}/products/prod-000001`,
  connections: CONNECTIONS,
  duration: SECONDS,
  headers: { accept: 'application/json', 'user-agent': 'flashsale-bench' },
})
const arms: [string, Watched, autocannon.Options][] = [
  ['direct', { upstream: upstreamProcess }, get(UPSTREAM)],
  ['gateway', { upstream: upstreamProcess, gateway: gatewayProcess }, get(GATEWAY)],
  ['bare-node-proxy', { upstream: upstreamProcess, proxy: bareProxyProcess }, get(BARE_PROXY)],
  ...(nginxBin ? ([['nginx', { upstream: upstreamProcess, nginx: nginxProcess }, get(NGINX)]] as [string, Watched, autocannon.Options][]) : []),
]
const { throughput, samples, non2xx, cpuUsPerRequest, cpuText } = await runArms(arms, ROUNDS)
stopAll()

const ratio = ratioOf(throughput['gateway'], throughput['direct'])
const result = {
  case: 'gateway-overhead',
  date: new Date().toISOString(),
  unit: 'requests/s',
  cores: availableParallelism(),
  seconds: SECONDS,
  rounds: ROUNDS,
  connections: CONNECTIONS,
  throughput,
  samples,
  non2xx,
  cpuUsPerRequest,
  ratio,
  goal: 0.7,
  nginxRatio: throughput['nginx'] ? ratioOf(throughput['nginx'], throughput['direct']) : null,
  bareNodeProxyRatio: ratioOf(throughput['bare-node-proxy'], throughput['direct']),
  machine: `${availableParallelism()} cores shared by the load generator, the proxy, the upstream (and Redis for the gateway); the ratio is the result. CPU per 2xx answer: ${cpuText}`,
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
writeFileSync(join(ROOT, 'bench/results/gateway-overhead.json'), `${JSON.stringify(result, null, 2)}\n`)
console.log(
  `direct ${throughput['direct']} req/s, gateway ${throughput['gateway']} req/s (ratio ${ratio}, goal >= 0.7), bare Node proxy ${throughput['bare-node-proxy']} req/s (ratio ${result.bareNodeProxyRatio})${throughput['nginx'] ? `, nginx ${throughput['nginx']} req/s (ratio ${result.nginxRatio})` : ', nginx not installed'}`,
)
