/**
 * A thin runner over `node --test`: finds every test file of every workspace, runs the ordinary ones in
 * parallel (each file is its own process with its own database, Redis prefix and topics), then runs the
 * `*.serial.test.ts` files one at a time: those change shared servers (pause a replica's replay) or need
 * the machine to themselves (the order path's thousand-request invariant races on 2 cores).
 * Usage: node scripts/run-tests.ts [--unit] [path-prefix ...]   e.g. node scripts/run-tests.ts packages/db
 * Loads .local/stack.env when present (written by `make infra-up`).
 *
 * --unit (npm run test:unit): only the unit tier, `*.unit.test.ts`: pure logic and use cases over in-memory
 * fakes of their ports, no servers. It runs without the stack's env, and @flashsale/testkit refuses to hand
 * out servers (FLASHSALE_UNIT_TESTS=1), so a unit test that reaches for one fails instead of passing slowly.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, globSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const args = process.argv.slice(2)
const unitOnly = args.includes('--unit')
const unknown = args.filter((a) => a.startsWith('-') && a !== '--unit')
if (unknown.length > 0) {
  console.error(`unknown option(s) ${unknown.join(' ')}; usage: node scripts/run-tests.ts [--unit] [path-prefix ...]`)
  process.exit(2)
}
const filters = args.filter((a) => !a.startsWith('-'))
const files = globSync(['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts'])
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(p)))
  .filter((f) => !unitOnly || f.endsWith('.unit.test.ts'))
  .sort()
const serial = files.filter((f) => f.endsWith('.serial.test.ts'))
const parallel = files.filter((f) => !serial.includes(f))

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || 'the workspaces'}`)
  process.exit(1)
}

const common = [
  // kafkajs 2.2.4 schedules a negative timeout on Node >= 22; harmless, and noisy in every test.
  '--disable-warning=TimeoutNegativeWarning',
  ...(existsSync('.local/stack.env') && !unitOnly ? ['--env-file=.local/stack.env'] : []),
  '--test',
  '--test-reporter=spec',
  '--test-timeout=120000',
]

function run(label: string, list: string[], concurrency: number): number {
  if (list.length === 0) return 0
  console.log(`\n── ${label}: ${list.length} file(s), concurrency ${concurrency}`)
  const env = unitOnly ? { ...withoutStack(process.env), FLASHSALE_UNIT_TESTS: '1' } : process.env
  const r = spawnSync(process.execPath, [...common, `--test-concurrency=${concurrency}`, ...list], { stdio: 'inherit', env })
  return r.status ?? 1
}

// I/O-bound suites: more files in flight than cores.
const a = run('parallel suites', parallel, Math.max(4, availableParallelism() * 2))
const b = run('serial suites (shared servers changed, or the machine needed whole)', serial, 1)
console.log(`\n── tests ${a === 0 && b === 0 ? 'PASSED' : 'FAILED'} (parallel exit ${a}, serial exit ${b})`)
process.exit(a === 0 && b === 0 ? 0 : 1)

/** The environment without the stack's server addresses (as if `make infra-up` had never run). */
function withoutStack(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const stack = new Set(['PG_PRIMARY_URL', 'PG_REPLICA_URLS', 'PG_MONITOR_URL', 'REDIS_URL', 'REDIS_SENTINEL_URL', 'KAFKA_BROKERS', 'TOXIPROXY_URL'])
  return Object.fromEntries(Object.entries(env).filter(([k]) => !stack.has(k)))
}
