/**
 * A thin runner over `node --test`: finds every test file of every workspace, runs the ordinary ones in
 * parallel (each file is its own process with its own database, Redis prefix and topics), then runs the
 * `*.serial.test.ts` files one at a time: those change shared servers (pause a replica's replay) or need
 * the machine to themselves (the order path's thousand-request invariant races on 2 cores).
 * Usage: node scripts/run-tests.ts [path-prefix ...]   e.g. node scripts/run-tests.ts packages/db
 * Loads .local/stack.env when present (written by `make infra-up`).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, globSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const filters = process.argv.slice(2)
const files = globSync(['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts'])
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(p)))
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
  ...(existsSync('.local/stack.env') ? ['--env-file=.local/stack.env'] : []),
  '--test',
  '--test-reporter=spec',
  '--test-timeout=120000',
]

function run(label: string, list: string[], concurrency: number): number {
  if (list.length === 0) return 0
  console.log(`\n── ${label}: ${list.length} file(s), concurrency ${concurrency}`)
  const r = spawnSync(process.execPath, [...common, `--test-concurrency=${concurrency}`, ...list], { stdio: 'inherit' })
  return r.status ?? 1
}

// I/O-bound suites: more files in flight than cores.
const a = run('parallel suites', parallel, Math.max(4, availableParallelism() * 2))
const b = run('serial suites (shared servers changed, or the machine needed whole)', serial, 1)
console.log(`\n── tests ${a === 0 && b === 0 ? 'PASSED' : 'FAILED'} (parallel exit ${a}, serial exit ${b})`)
process.exit(a === 0 && b === 0 ? 0 : 1)
