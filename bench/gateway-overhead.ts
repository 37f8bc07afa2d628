/**
 * Gateway throughput ÷ direct-to-service throughput on the same route, side by side in one run, with
 * nginx as a plain reverse proxy for comparison (issue 5's benchmark). The upstream is a bare Fastify app
 * (bench/fixtures/upstream.ts); the gateway runs its whole pipeline for GET /products/:id (blocklist,
 * schema check, bot score, per-IP GCRA in Redis, adaptive limit, breaker, balancer) with the rate limit
 * and the bot score's rate trigger set high enough never to refuse (one load generator on one address
 * would otherwise be throttled, as it should be). 16 connections: below the adaptive limit's starting
 * value (20), so the run measures the proxy path, not the shedding (the overload scenarios measure that).
 * Load: autocannon from this process, arms alternating.
 *
 *   node --env-file=.local/stack.env bench/gateway-overhead.ts [--seconds 5] [--rounds 3] [--connections 16]
 *
 * Writes bench/results/gateway-overhead.json. nginx comes from Debian (nginx-light); without it that arm
 * is skipped and the result says so.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } } })
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const ROOT = join(import.meta.dirname, '..')
const env = process.env

for (const name of ['REDIS_URL', 'AUTH_JWT_PUBLIC_JWK']) {
  if (!env[name]) throw new Error(`${name} is not set: run with --env-file=.local/stack.env after make infra-up (make bench-gateway does both)`)
}

const children: ChildProcess[] = []
const stopAll = () => children.forEach((c) => c.kill('SIGTERM'))
process.on('exit', stopAll)

async function waitUp(url: string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function start(command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  return child
}

const UPSTREAM = 58_101
const GATEWAY = 58_102
const NGINX = 58_103
start(process.execPath, [join(ROOT, 'bench/fixtures/upstream.ts'), String(UPSTREAM)])
await waitUp(`http://127.0.0.1:${UPSTREAM}/health/ready`)
start(process.execPath, ['--disable-warning=TimeoutNegativeWarning', join(ROOT, 'services/gateway/src/server.ts')], {
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

const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))
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
  start(nginxBin, ['-c', join(dir, 'nginx.conf'), '-p', dir])
  await waitUp(`http://127.0.0.1:${NGINX}/health/ready`)
}

async function measure(port: number): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/products/prod-000001`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { accept: 'application/json', 'user-agent': 'flashsale-bench' },
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`:${port} answered ${result.non2xx} non-2xx and ${result.errors} errors`)
  return result.requests.average
}

const arms: [string, number][] = [
  ['direct', UPSTREAM],
  ['gateway', GATEWAY],
  ...(nginxBin ? ([['nginx', NGINX]] as [string, number][]) : []),
]
const samples: Record<string, number[]> = Object.fromEntries(arms.map(([name]) => [name, []]))
for (const [, port] of arms) await measure(port) // warm-up: JIT, connection pools, Redis scripts
for (let r = 0; r < ROUNDS; r++) for (const [name, port] of arms) samples[name]?.push(await measure(port))
stopAll()

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const throughput = Object.fromEntries(arms.map(([name]) => [name, Math.round(median(samples[name] ?? []))]))
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
  samples,
  ratio,
  goal: 0.7,
  nginxRatio: throughput['nginx'] ? Math.round((throughput['nginx'] / (throughput['direct'] ?? 1)) * 100) / 100 : null,
  machine: `${availableParallelism()} cores shared by the load generator, the proxy and the upstream; the ratio is the result`,
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
writeFileSync(join(ROOT, 'bench/results/gateway-overhead.json'), `${JSON.stringify(result, null, 2)}\n`)
console.log(`direct ${throughput['direct']} req/s, gateway ${throughput['gateway']} req/s (ratio ${ratio}, goal >= 0.7)${throughput['nginx'] ? `, nginx ${throughput['nginx']} req/s (ratio ${result.nginxRatio})` : ', nginx not installed'}`)
