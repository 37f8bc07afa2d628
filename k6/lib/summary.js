/**
 * The end of every run (handleSummary): a results file a person or the demo can read, a copy under a
 * stable name, and a short text summary on stdout. Shape: k6/README.md ("Results").
 *
 *   k6/results/<scenario>-<UTC timestamp>.json   {flashsale: <compact result>, k6: {metrics, state, options}}
 *   k6/results/<scenario>.latest.json            the same
 *   k6/results/<scenario>.latest.txt             the text summary (also printed)
 */
import { GATEWAY_URL, RESULTS_DIR } from './env.js'
import { ORDER_OUTCOMES, POLL_OUTCOMES, READ_OUTCOMES, countThresholds, countsOf } from './outcomes.js'

/** Trend statistics every scenario reports (p50/p95/p99 of order placement in particular). */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'max', 'count']

/**
 * Options every scenario starts from: the trend statistics, parallel batches for token setup, and the
 * always-true thresholds that make each outcome's count appear in the summary data.
 */
export function baseOptions({ groups = [] } = {}) {
  const thresholds = {
    ...countThresholds('order_outcomes', ORDER_OUTCOMES),
    ...countThresholds('read_outcomes', READ_OUTCOMES),
    ...countThresholds('poll_outcomes', POLL_OUTCOMES),
  }
  for (const group of groups) {
    Object.assign(thresholds, countThresholds('order_outcomes', ORDER_OUTCOMES, { group }), countThresholds('read_outcomes', READ_OUTCOMES, { group }))
  }
  return {
    summaryTrendStats: SUMMARY_TREND_STATS,
    batch: 100,
    batchPerHost: 100,
    setupTimeout: '180s',
    teardownTimeout: '30s',
    thresholds,
  }
}

const round = (n, digits = 1) => (typeof n === 'number' && Number.isFinite(n) ? Number(n.toFixed(digits)) : null)
const trendOf = (data, name) => {
  const v = data.metrics[name]?.values
  if (!v || !v.count) return { p50: null, p95: null, p99: null }
  return { p50: round(v['p(50)']), p95: round(v['p(95)']), p99: round(v['p(99)']) }
}
const isBookkeeping = (expr) => expr === 'count>=0'

/** Every threshold a scenario declared (bookkeeping ones left out), with its verdict and the observed value. */
function thresholdResults(data) {
  const out = []
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [expr, verdict] of Object.entries(metric.thresholds ?? {})) {
      if (isBookkeeping(expr)) continue
      const stat = expr.match(/^\s*([a-z]+(?:\([\d.]+\))?)/)?.[1]
      out.push({ metric: name, threshold: expr, ok: verdict.ok, observed: stat && metric.values[stat] !== undefined ? round(metric.values[stat], 4) : null })
    }
  }
  return out.sort((a, b) => a.metric.localeCompare(b.metric))
}

const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0)
const line = (label, counts) =>
  `${label.padEnd(12)}${Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ')}`

function textSummary(result, files) {
  const ms = (n) => (n === null ? '-' : `${n} ms`)
  const out = []
  const secs = ((Date.parse(result.endedAt) - Date.parse(result.startedAt)) / 1000).toFixed(1)
  out.push(`${result.scenario}   ${result.startedAt} → ${result.endedAt} (${secs} s)   thresholds ${result.thresholdsPassed ? 'PASSED' : 'FAILED'}`)
  out.push(`gateway     ${result.gateway}${result.sku ? `   sku ${result.sku}` : ''}`)
  out.push(
    `requests    ${result.requests.count} (${result.requests.perSecond}/s; setup's token requests not counted)   failed ${result.requests.failedRate}   dropped iterations ${result.droppedIterations}`,
  )
  if (sum(result.outcomes) > 0) {
    out.push(line('orders', result.outcomes))
    out.push(`placement   p50 ${ms(result.placement.p50)} · p95 ${ms(result.placement.p95)} · p99 ${ms(result.placement.p99)}`)
  }
  if (result.polls && sum(result.polls) > 0) out.push(line('polls', result.polls))
  if (result.reads && sum(result.reads) > 0) {
    out.push(line('reads', result.reads))
    out.push(`read time   p50 ${ms(result.readLatency.p50)} · p95 ${ms(result.readLatency.p95)} · p99 ${ms(result.readLatency.p99)}`)
  }
  for (const [group, g] of Object.entries(result.groups ?? {})) {
    if (sum(g.outcomes) > 0) out.push(line(`${group} orders`, g.outcomes))
    if (sum(g.reads) > 0) out.push(line(`${group} reads`, g.reads))
  }
  if (result.rejection.p99 !== null)
    out.push(
      `refusals    p50 ${ms(result.rejection.p50)} · p95 ${ms(result.rejection.p95)} · p99 ${ms(result.rejection.p99)}   (429, shed or degraded 503, bot 403)`,
    )
  out.push('thresholds')
  for (const t of result.thresholds) out.push(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric} ${t.threshold}   (observed ${t.observed ?? '-'})`)
  out.push(`results     ${files.join('  ')}`)
  return out.join('\n') + '\n'
}

/**
 * handleSummary for a scenario. `describe(data)` may add scenario-specific members (its settings, ...).
 * The start time comes from setup data (`startedAt`); tokens in the setup data are never written out.
 */
export function summaryHandler(scenario, { groups = [], describe } = {}) {
  return function handleSummary(data) {
    const ended = new Date()
    const startedAt = data.setup_data?.startedAt ?? new Date(ended.getTime() - data.state.testRunDurationMs).toISOString()
    const thresholds = thresholdResults(data)
    const outcomes = countsOf(data, 'order_outcomes', ORDER_OUTCOMES)
    const polls = countsOf(data, 'poll_outcomes', POLL_OUTCOMES)
    const reads = countsOf(data, 'read_outcomes', READ_OUTCOMES)
    // The scenario's own requests (every one is counted by an outcome); setup's token requests are not load.
    const count = sum(outcomes) + sum(polls) + sum(reads)
    const seconds = (ended.getTime() - Date.parse(startedAt)) / 1000
    const result = {
      scenario,
      startedAt,
      endedAt: ended.toISOString(),
      outcomes,
      placement: trendOf(data, 'order_placement_ms'),
      thresholdsPassed: thresholds.every((t) => t.ok),
      gateway: GATEWAY_URL,
      sku: data.setup_data?.sku ?? null,
      requests: {
        count,
        perSecond: round(count / Math.max(seconds, 0.001)),
        failedRate: round(data.metrics.http_req_failed?.values.rate ?? 0, 4),
        includingSetup: data.metrics.http_reqs?.values.count ?? 0,
      },
      droppedIterations: data.metrics.dropped_iterations?.values.count ?? 0,
      polls,
      reads,
      readLatency: trendOf(data, 'read_ms'),
      rejection: trendOf(data, 'rejection_ms'),
      idempotencyViolations: data.metrics.idempotency_violations?.values.count ?? 0,
      groups: Object.fromEntries(
        groups.map((group) => [
          group,
          { outcomes: countsOf(data, 'order_outcomes', ORDER_OUTCOMES, { group }), reads: countsOf(data, 'read_outcomes', READ_OUTCOMES, { group }) },
        ]),
      ),
      thresholds,
      ...(describe ? describe(data) : {}),
    }
    const stamp = result.endedAt.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
    const json = JSON.stringify({ flashsale: result, k6: { state: data.state, metrics: data.metrics } }, null, 2)
    const files = [`${RESULTS_DIR}/${scenario}-${stamp}.json`, `${RESULTS_DIR}/${scenario}.latest.json`, `${RESULTS_DIR}/${scenario}.latest.txt`]
    const text = textSummary(result, files)
    return { [files[0]]: json, [files[1]]: json, [files[2]]: text, stdout: text }
  }
}
