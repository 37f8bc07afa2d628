import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseEnv, promisify } from 'node:util'
import { getInfra } from '../src/index.ts'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..', '..')

describe('the native stack scripts (infra/local)', async () => {
  const infra = await getInfra()
  const native = infra.source !== 'testcontainers'

  it(
    'infra-up run again while the stack is up is harmless: every part is left running as it was',
    { skip: !native && 'servers come from testcontainers' },
    async () => {
      const before = await run(join(ROOT, 'infra/local/status.sh'), { cwd: ROOT })
      const { stdout } = await run(join(ROOT, 'infra/local/up.sh'), { cwd: ROOT, timeout: 120_000 })
      assert.equal(stdout.match(/node :\d+ already running/g)?.length, 3, 'every PostgreSQL node was left running')
      for (const part of [
        'pg_auto_failover monitor already running',
        'redis master already running',
        'redis replica already running',
        'sentinel 1 already running',
        'sentinel 2 already running',
        'sentinel 3 already running',
        'kafka already running',
        'toxiproxy already running',
        'prometheus already running',
        'ops page already running',
      ]) {
        assert.match(stdout, new RegExp(part), `up.sh said: ${part}`)
      }
      assert.match(stdout, /primary on :\d+, 2 standbys streaming/)
      assert.match(stdout, /topics ready: orders\.requested\(12\), orders\.events\(12\), orders\.dlq\(3\)/)
      const after = await run(join(ROOT, 'infra/local/status.sh'), { cwd: ROOT })
      // Same pids, same "up" lines: nothing was restarted (lag figures may differ).
      assert.match(before.stdout, /kafka .*pid \d+/)
      const stable = (s: string) => s.replace(/replay lag: [^\n]*/g, '').trim()
      assert.equal(stable(after.stdout), stable(before.stdout))
      // Every infrastructure part is up (the services listed after them may be down: they are not started here).
      const infra = after.stdout.split(/==>\S* services/)[0] ?? ''
      assert.match(infra, /toxiproxy +up/)
      assert.match(infra, /prometheus +up/)
      assert.match(infra, /ops +up/)
      assert.doesNotMatch(infra, /\bdown\b/)
    },
  )

  it(
    "Prometheus runs with the stack: the project's alert rules loaded, every service instance a target",
    { skip: !native && 'servers come from testcontainers' },
    async () => {
      const env = parseEnv(readFileSync(join(ROOT, '.local/stack.env'), 'utf8')) as Record<string, string>
      const base = env['PROMETHEUS_URL']
      assert.ok(base, 'infra-up wrote PROMETHEUS_URL to .local/stack.env')
      const api = async <T>(path: string): Promise<T> => ((await (await fetch(`${base}${path}`)).json()) as { data: T }).data
      const { groups } = await api<{ groups: { rules: { name: string; health: string }[] }[] }>('/api/v1/rules')
      const rules = groups.flatMap((g) => g.rules)
      assert.ok(rules.some((r) => r.name === 'OrderDlqNotEmpty') && rules.some((r) => r.name === 'GatewayRetryBudgetExhausted'), 'the alert rules')
      const { activeTargets } = await api<{ activeTargets: { labels: { job: string } }[] }>('/api/v1/targets?state=active')
      const jobs = new Set(activeTargets.map((t) => t.labels.job))
      for (const job of ['gateway', 'catalog', 'inventory', 'order', 'order-worker', 'review', 'review-projector']) assert.ok(jobs.has(job), `job ${job}`)
    },
  )
})
