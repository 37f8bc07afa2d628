/**
 * Prints every Prometheus metric name our processes can export, as JSON {name: type}, for the
 * cross-check of alert rules and dashboards (infra/compose/check.py):
 * - Node's default metrics and the event-loop gauge, read from a real registry of @flashsale/metrics;
 * - every prom-client metric declared in services/* and packages/* sources (`new Gauge({ name: '...'`), and
 *   those made by a helper named after its type with the name first (`limiterGauge('gateway_...', ...)`).
 * Histograms also export <name>_bucket, _sum and _count; the checker adds those.
 *   node infra/compose/metric-names.ts > metrics.json
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createProcessMetrics } from '@flashsale/metrics'

const root = new URL('../../', import.meta.url).pathname
const names: Record<string, string> = {}

const metrics = createProcessMetrics({ service: 'metric-names' })
for (const m of await metrics.registry.getMetricsAsJSON()) names[m.name] = String(m.type)
metrics.stop()

const DECLARED = /new (Counter|Gauge|Histogram|Summary)\s*\(\s*\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g
const BY_HELPER = /\b[a-z]\w*(Counter|Gauge|Histogram|Summary)\(\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (entry === 'node_modules' || entry === 'test') return []
    if (statSync(path).isDirectory()) return walk(path)
    return path.endsWith('.ts') ? [path] : []
  })
}
for (const top of ['services', 'packages', 'tools']) {
  for (const file of walk(join(root, top))) {
    const source = readFileSync(file, 'utf8')
    for (const [, kind, name] of [...source.matchAll(DECLARED), ...source.matchAll(BY_HELPER)]) names[name!] = kind!.toLowerCase()
  }
}
process.stdout.write(JSON.stringify(names, null, 1) + '\n')
