/**
 * The summary `make demo` ends with: what happened to the hot sale, read from three places that do not
 * depend on each other — k6's view from the outside (k6/results/flash-sale.latest.json), the databases'
 * view (the verify report) and the gateway's own counters (/metrics).
 *
 *   node tools/demo/src/summary.ts --k6 <file> --verify <file> --demo-env <file> --services-env <file> [--seconds N] [--e2e]
 * --e2e (the end-to-end phase of make test): no URLs (the services stop after it), and exit 1 unless k6 saw
 * accepted orders and the hot sale has confirmed orders in Postgres.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs, parseEnv } from 'node:util'
import { relative } from 'node:path'
import { sumSamples } from '@flashsale/metrics'
import type { SaleStats, VerifyReport } from '@flashsale/verify'

const { values: args } = parseArgs({
  options: {
    k6: { type: 'string' },
    verify: { type: 'string' },
    'demo-env': { type: 'string' },
    'services-env': { type: 'string' },
    'stack-env': { type: 'string' },
    seconds: { type: 'string' },
    e2e: { type: 'boolean' },
    'degraded-before': { type: 'string', default: '0' },
  },
})
if (!args.k6 || !args.verify || !args['demo-env']) {
  console.error(
    'usage: summary.ts --k6 <flash-sale.latest.json> --verify <verify.json> --demo-env <.local/demo.env> [--services-env <.local/services.env>] [--stack-env <.local/stack.env>] [--seconds N]',
  )
  process.exit(2)
}

interface K6Result {
  readonly startedAt: string
  readonly endedAt: string
  readonly outcomes: Readonly<Record<string, number>>
  readonly placement: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null }
  readonly thresholdsPassed: boolean
  readonly requests: { readonly count: number; readonly perSecond: number }
  readonly users?: number
}

const envFile = (path: string | undefined): Record<string, string> =>
  path && existsSync(path) ? (parseEnv(readFileSync(path, 'utf8')) as Record<string, string>) : {}

const demo = envFile(args['demo-env'])
const services = envFile(args['services-env'])
const report = JSON.parse(readFileSync(args.verify, 'utf8')) as VerifyReport
const k6: K6Result | undefined = existsSync(args.k6) ? (JSON.parse(readFileSync(args.k6, 'utf8')) as { flashsale?: K6Result }).flashsale : undefined
const gatewayUrl = services['GATEWAY_URL'] ?? 'http://127.0.0.1:8080'
const metrics = await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(3_000) })
  .then((r) => (r.ok ? r.text() : ''))
  .catch(() => '')

const bold = (s: string): string => (process.stdout.isTTY ? `\u001b[1m${s}\u001b[0m` : s)
const good = (ok: boolean, s: string): string => (process.stdout.isTTY ? `\u001b[${ok ? '32' : '1;31'}m${s}\u001b[0m` : s)
const n = (v: number | undefined): string => (v ?? 0).toLocaleString('en-US')
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${Math.round(v)} ms`)

const sale: SaleStats | undefined = report.stats.sales.find((s) => s.saleId === demo['HOT_SALE_ID'])
const lines: string[] = ['']
lines.push(bold(`Flash sale ${demo['HOT_SALE_ID'] ?? '(unknown)'}: ${n(sale?.total)} units of ${demo['HOT_SKU'] ?? '?'}`))

if (sale) {
  const live = (sale.orders['confirmed'] ?? 0) + (sale.orders['paid'] ?? 0)
  const soldOut =
    sale.soldOutAt && sale.firstRequestedAt
      ? `sold out ${((Date.parse(sale.soldOutAt) - Date.parse(sale.firstRequestedAt)) / 1000).toFixed(1)} s after the first order`
      : `not sold out: ${n(sale.total - sale.sold)} units left`
  lines.push(`  time to sell out    ${soldOut}`)
  const rejected = Object.entries(sale.orders)
    .filter(([k]) => k.startsWith('rejected:'))
    .map(([k, v]) => `${k.slice('rejected:'.length)} ${n(v)}`)
    .join(', ')
  lines.push(
    `  orders persisted    ${n(live)} confirmed or paid (${n(sale.orders['paid'])} paid) · ${n(sale.orders['rejected'])} rejected${rejected ? ` (${rejected})` : ''} · ${n(sale.orders['cancelled'])} cancelled`,
  )
}
if (k6) {
  const o = k6.outcomes
  const secs = ((Date.parse(k6.endedAt) - Date.parse(k6.startedAt)) / 1000).toFixed(0)
  lines.push(`  order requests      ${n(k6.requests.count)} HTTP requests in ${secs} s (${n(Math.round(k6.requests.perSecond))}/s) from k6`)
  lines.push(`  answers             accepted ${n(o['accepted'])} (202) · replayed ${n(o['replayed'])} (same Idempotency-Key)`)
  lines.push(
    `  refused as intended sold out ${n(o['sold_out'])} · per-user limit ${n(o['limit'])} · rate-limited ${n(o['rate_limited'])} · shed ${n(o['shed'])} · degraded ${n(o['degraded'])} · blocked ${n(o['blocked'])}`,
  )
  lines.push(`  errors              ${good((o['errors'] ?? 0) === 0, n(o['errors']))} (5xx or transport errors the system did not intend)`)
  lines.push(
    `  order placement     p50 ${ms(k6.placement.p50)} · p95 ${ms(k6.placement.p95)} · p99 ${ms(k6.placement.p99)}   k6 thresholds ${good(k6.thresholdsPassed, k6.thresholdsPassed ? 'passed' : 'FAILED')}`,
  )
} else {
  lines.push(`  k6                  ${good(false, `no results at ${args.k6}`)}`)
}
// Undefined when the gateway's metrics could not be read.
const episodes = metrics ? sumSamples(metrics, 'gateway_degradation_changes_total', { state: 'degraded' }) : undefined
lines.push(
  `  degradation         ${episodes === undefined ? 'unknown (gateway /metrics unreachable)' : `${n(episodes - Number(args['degraded-before']))} episode(s) during the run (non-core routes only; gateway_degradation_changes_total)`}`,
)

const failed = (name: string): number => report.checks.find((c) => c.name === name)?.violations.length ?? 0
const inv = [
  ['oversold', failed('no-oversell')],
  ['lost', failed('nothing-lost')],
  ['duplicates', failed('no-duplicates')],
  ['DLQ', report.stats.deadLettersUnhandled],
] as const
lines.push(
  `  invariants          ${inv.map(([k, v]) => good(v === 0, `${k} = ${v}`)).join(' · ')} · ${good(failed('stock-agreement') === 0, failed('stock-agreement') === 0 ? 'Redis = Postgres' : 'Redis ≠ Postgres')} · ${good(report.ok, report.ok ? 'verify PASSED' : 'verify FAILED')}`,
)
if (!args.e2e) {
  lines.push('')
  lines.push(bold('The stack is up:'))
  lines.push(`  gateway             ${gatewayUrl}   (GET /products/..., POST /orders; tokens: POST /auth/demo-token; API: /docs)`)
  for (const [k, v] of Object.entries(services).filter(([k]) => k.endsWith('_URLS'))) lines.push(`  ${k.toLowerCase().replace('_urls', '').padEnd(19)} ${v}`)
  lines.push('  metrics             <any service URL>/metrics · make infra-status · make infra-logs')
  const prometheus = envFile(args['stack-env'])['PROMETHEUS_URL']
  if (prometheus) lines.push(`  prometheus          ${prometheus}   (every service scraped every second; the project's alert rules at ${prometheus}/alerts)`)
  const ops = envFile(args['stack-env'])['OPS_URL']
  if (ops) lines.push(`  ops page            ${ops}   (live charts: orders, stock per sale, gateway, queue, data tier roles, waiting rooms, alerts)`)
  const htmlReport = args.k6.replace(/\.json$/, '.html')
  if (existsSync(htmlReport))
    lines.push(`  k6 report           ${relative(process.cwd(), htmlReport)}   (k6's web dashboard of the flash sale, self-contained HTML)`)
  lines.push('  next                make verify (re-check) · make load-<scenario> · make down (stop everything)')
  if (args.seconds) lines.push(`  make demo took      ${args.seconds} s`)
}
console.log(lines.join('\n'))

if (args.e2e) {
  const live = (sale?.orders['confirmed'] ?? 0) + (sale?.orders['paid'] ?? 0)
  const problem = !k6
    ? `k6 wrote no results (${args.k6})`
    : (k6.outcomes['accepted'] ?? 0) === 0
      ? 'k6 saw no accepted order (202)'
      : live === 0
        ? `the hot sale ${demo['HOT_SALE_ID']} has no confirmed order in Postgres`
        : undefined
  if (problem) {
    console.error(`\nend to end: ${problem}`)
    process.exitCode = 1
  }
}
