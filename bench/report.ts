/**
 * Turns bench/results/*.json into docs/benchmarks.md with one SVG bar chart per case
 * (docs/benchmarks/<case>.svg), so a person can look at the ratios without running anything.
 * A case measured on other code too (bench/results/<case>-<variant>.json, e.g. flash-burst-before.json:
 * the code before a change) is shown in the same section, the variant first; burst cases (flash-burst)
 * also get the answers by outcome per arm and the time to answer everyone, every variant side by side.
 *   node bench/report.ts
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { median } from './lib.ts'

/** One arm of a burst case (bench/flash-burst.ts): its repetitions and their medians. */
interface BurstArm {
  readonly buyers: number
  readonly stock: number
  readonly repetitions: number
  readonly soldPerRep: readonly number[]
  readonly persistedPerRep: readonly (number | null)[]
  readonly definitiveSharePerRep: readonly number[]
  readonly medianAnswerEveryoneMs: number
  readonly medianLatencyMs: { readonly p50: number; readonly p95: number; readonly p99: number }
  /** Mean answers per burst by outcome group ("accepted 202", "overloaded 503", ...). */
  readonly outcomesPerBurst: Readonly<Record<string, number>>
  readonly bursts: readonly {
    readonly answers: Readonly<Record<string, number>>
    readonly cpuSeconds: Readonly<Record<string, number>>
    readonly redisShare?: number | null
    readonly persisted?: { readonly lastPersistedMs: number | null }
  }[]
}

interface Result {
  readonly case: string
  /** Set when the result measured other code than the current (e.g. "before": the code before a change). */
  readonly variant?: string
  readonly date: string
  readonly ratio: number
  readonly goal: number
  /** The goal as the table shows it when it is not "at least": "≤ 2×". */
  readonly goalText?: string
  readonly unit: string
  readonly throughput: Readonly<Record<string, number>>
  readonly machine?: string
  readonly orders?: number
  readonly batchSize?: number
  readonly rounds?: number
  /** Cases with more than one goal (overload): each measured value with its goal, and which were met. */
  readonly checks?: Readonly<Record<string, { readonly value: number; readonly goal: string; readonly label?: string }>>
  readonly met?: Readonly<Record<string, boolean>>
  /** Per arm, a value per second (overload: admitted answers per second), or a burst arm (flash-burst). */
  readonly arms?: Readonly<Record<string, { readonly goodputBySecond?: readonly number[] } & Partial<BurstArm>>>
  /** The commit the measured services ran from, and whether services/ or packages/ had changes on top. */
  readonly services?: { readonly commit: string; readonly modified: boolean } | null
  /** What a reader should know to read the numbers (how the run was limited), printed under the case. */
  readonly note?: string
  /** What the second-by-second chart counts, when it is not `unit` (waiting-room: buyers per second). */
  readonly timelineUnit?: string
  /** Burst cases: units sold ÷ stock per arm, worst repetition. */
  readonly soldShare?: Readonly<Record<string, number>>
}

function verdict(r: Result): string {
  if (!r.met) return r.ratio >= r.goal ? 'meets the goal' : 'below the goal'
  const missed = Object.entries(r.met)
    .filter(([, ok]) => !ok)
    .map(([name]) => name)
  return missed.length === 0 ? 'meets every goal' : `misses: ${missed.join(', ')}`
}

const ROOT = join(import.meta.dirname, '..')
const resultsDir = join(ROOT, 'bench', 'results')
const chartsDir = join(ROOT, 'docs', 'benchmarks')
mkdirSync(chartsDir, { recursive: true })

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
const fixed = (n: number | null | undefined, digits = 0) => (n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits }))

/** A horizontal bar chart, log-free and plain: one bar per arm, the value printed at its end. */
function barChart(title: string, bars: readonly [string, number][]): string {
  const width = 640
  const barHeight = 28
  const left = 220
  const max = Math.max(...bars.map(([, v]) => v), 1)
  const height = 50 + bars.length * (barHeight + 12)
  const rows = bars
    .map(([label, value], i) => {
      const y = 40 + i * (barHeight + 12)
      const w = Math.max(1, ((width - left - 90) * value) / max)
      return `<text x="${left - 8}" y="${y + 19}" text-anchor="end">${escape(label)}</text>
  <rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${i === 0 ? '#2b6cb0' : '#a0aec0'}"/>
  <text x="${(left + w + 6).toFixed(1)}" y="${y + 19}">${value.toLocaleString('en-US')}</text>`
    })
    .join('\n  ')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="14">
  <text x="10" y="22" font-weight="bold">${escape(title)}</text>
  ${rows}
</svg>
`
}

/** One line per series over time, second by second, on a shared axis starting at 0. */
function lineChart(title: string, series: readonly [string, readonly number[]][]): string {
  const width = 640
  const height = 300
  const [left, right, top, bottom] = [50, 170, 36, 40]
  const colors = ['#2b6cb0', '#38a169', '#e53e3e', '#805ad5']
  const seconds = Math.max(...series.map(([, v]) => v.length), 1)
  const max = Math.max(...series.flatMap(([, v]) => v), 1)
  const x = (i: number) => left + ((width - left - right) * i) / Math.max(1, seconds - 1)
  const y = (v: number) => height - bottom - ((height - top - bottom) * v) / max
  const lines = series
    .map(([label, values], n) => {
      const color = colors[n % colors.length]
      const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      // Dashed every other line: series that lie on each other (two arms at the same goodput) stay visible.
      return `<polyline fill="none" stroke="${color}" stroke-width="2"${n % 2 === 1 ? ' stroke-dasharray="6 4"' : ''} points="${points}"/>
  <text x="${width - right + 8}" y="${top + 18 * n + 10}" fill="${color}">${escape(label)}</text>`
    })
    .join('\n  ')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
  <text x="10" y="20" font-weight="bold">${escape(title)}</text>
  <line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#718096"/>
  <line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#718096"/>
  <text x="${left - 6}" y="${y(max) + 4}" text-anchor="end">${max}</text>
  <text x="${left - 6}" y="${height - bottom + 4}" text-anchor="end">0</text>
  <text x="${width - right}" y="${height - bottom + 18}" text-anchor="end">${seconds} s</text>
  ${lines}
</svg>
`
}

// Outcome groups of burst cases in a fixed order and colour: what buyers got, best to worst.
const OUTCOME_COLORS: readonly [string, string][] = [
  ['accepted 202', '#38a169'],
  ['sold out 409', '#2b6cb0'],
  ['limit 409', '#805ad5'],
  ['rate limited 429', '#d69e2e'],
  ['overloaded 503', '#e53e3e'],
  ['circuit open 503', '#dd6b20'],
  ['other refusal 503', '#a0aec0'],
  ['error', '#1a202c'],
]

/** One 100% stacked bar per row (shares of the row's total), a legend under it; buyers and units sold at the end. */
function stackedChart(title: string, rows: readonly [string, Readonly<Record<string, number>>][]): string {
  const width = 820
  const barHeight = 24
  const left = 230
  const barWidth = width - left - 170
  const groups = OUTCOME_COLORS.filter(([g]) => rows.some(([, r]) => (r[g] ?? 0) > 0))
  const legendY = 44 + rows.length * (barHeight + 10)
  const height = legendY + 20 * Math.ceil(groups.length / 3) + 10
  const bars = rows
    .map(([label, counts], i) => {
      const y = 36 + i * (barHeight + 10)
      const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1
      let x = left
      const segments = groups
        .map(([g, color]) => {
          const w = (barWidth * (counts[g] ?? 0)) / total
          const rect =
            w > 0
              ? `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color}"><title>${escape(`${g}: ${counts[g]}`)}</title></rect>`
              : ''
          x += w
          return rect
        })
        .join('')
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${escape(label)}</text>
  ${segments}
  <text x="${left + barWidth + 6}" y="${y + 17}">${Math.round(total).toLocaleString('en-US')} buyers · ${fixed(counts['accepted 202'] ?? 0, 1)} sold</text>`
    })
    .join('\n  ')
  const legend = groups
    .map(([g, color], i) => {
      const x = 10 + (i % 3) * 250
      const y = legendY + 20 * Math.floor(i / 3)
      return `<rect x="${x}" y="${y - 11}" width="12" height="12" fill="${color}"/><text x="${x + 18}" y="${y}">${escape(g)}</text>`
    })
    .join('\n  ')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
  <text x="10" y="20" font-weight="bold">${escape(title)}</text>
  ${bars}
  ${legend}
</svg>
`
}

const results: Result[] = readdirSync(resultsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as Result)

let md = `# Benchmarks

Generated by \`node bench/report.ts\` from \`bench/results/*.json\`; rerun a case with its make target.
Every result is a **ratio measured side by side in one run** on the same machine: absolute numbers on these
shared 2-core machines are noisy and are shown only to make the ratio readable.

| case | ratio | goal | verdict | measured |
| --- | --- | --- | --- | --- |
`
const titleOf = (r: Result) => (r.variant ? `${r.case} (${r.variant})` : r.case)
const fileOf = (r: Result) => (r.variant ? `${r.case}-${r.variant}` : r.case)

/** The arms of a burst result as a table: what each arm's repetitions got, and what it cost. */
function burstTable(arms: Readonly<Record<string, Partial<BurstArm>>>): string {
  let t =
    '| arm | sold per repetition (persisted) | definitive (202/409) | answers per burst, by status and code | latency p50 / p95 / p99 | everyone answered | last order persisted | rate limits by Redis | CPU s per burst (median) |\n'
  t += '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
  for (const [name, arm] of Object.entries(arms)) {
    const bursts = arm.bursts ?? []
    if (bursts.length === 0) continue
    const answers: Record<string, number> = {}
    for (const b of bursts) for (const [k, n] of Object.entries(b.answers)) answers[k] = (answers[k] ?? 0) + n / bursts.length
    const cpu: Record<string, number[]> = {}
    for (const b of bursts) for (const [p, sec] of Object.entries(b.cpuSeconds)) (cpu[p] ??= []).push(sec)
    const cpuText = Object.entries(cpu)
      .map(([p, xs]) => [p, median(xs)] as const)
      .filter(([, sec]) => sec >= 0.02)
      .sort((a, b) => b[1] - a[1])
      .map(([p, sec]) => `${p} ${sec.toFixed(2)}`)
      .join(' · ')
    const sold = (arm.soldPerRep ?? [])
      .map((n, i) => `${n}${arm.persistedPerRep?.[i] === null || arm.persistedPerRep?.[i] === undefined ? '' : ` (${arm.persistedPerRep[i]})`}`)
      .join(', ')
    const shares = bursts.flatMap((b) => (b.redisShare === undefined || b.redisShare === null ? [] : [b.redisShare]))
    const persisted = bursts.flatMap((b) =>
      b.persisted?.lastPersistedMs === undefined || b.persisted.lastPersistedMs === null ? [] : [b.persisted.lastPersistedMs],
    )
    const l = arm.medianLatencyMs
    t += `| ${name} (${fixed(arm.buyers)} buyers, ${arm.stock} units) | ${sold} of ${arm.stock} | ${(arm.definitiveSharePerRep ?? []).map((x) => `${fixed(x * 100, 1)}%`).join(', ')} | ${Object.entries(
      answers,
    )
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${fixed(n, 1)} × ${k}`)
      .join(
        '<br>',
      )} | ${l ? `${fixed(l.p50)} / ${fixed(l.p95)} / ${fixed(l.p99)} ms` : '-'} | ${fixed(arm.medianAnswerEveryoneMs)} ms | ${persisted.length ? `${fixed(median(persisted))} ms` : '-'} | ${shares.length ? `${fixed(median(shares) * 100, 1)}%` : '-'} | ${cpuText} |\n`
  }
  return t
}

for (const r of results) md += `| ${titleOf(r)} | ${r.ratio}× | ${r.goalText ?? `≥ ${r.goal}×`} | ${verdict(r)} | ${r.date.slice(0, 10)} |\n`
// One section per case; a variant (measured on other code) before the current result.
for (const name of [...new Set(results.map((r) => r.case))]) {
  const group = results.filter((r) => r.case === name).sort((a, b) => (a.variant ? 0 : 1) - (b.variant ? 0 : 1))
  md += `\n## ${name}\n\n`
  const burstResults = group.filter((r) => Object.values(r.arms ?? {}).some((a) => a.outcomesPerBurst))
  if (burstResults.length > 0) {
    const label = (r: Result, arm: string) => (r.variant ? `${r.variant} · ${arm}` : group.length > 1 ? `now · ${arm}` : arm)
    const rows = burstResults.flatMap((r) =>
      Object.entries(r.arms ?? {}).map(([arm, a]) => [label(r, arm), a.outcomesPerBurst ?? {}] as [string, Readonly<Record<string, number>>]),
    )
    writeFileSync(join(chartsDir, `${name}-outcomes.svg`), stackedChart(`${name}: what the one attempt got, share of buyers (mean per burst)`, rows))
    const times = burstResults.flatMap((r) =>
      Object.entries(r.arms ?? {}).map(([arm, a]) => [label(r, arm), a.medianAnswerEveryoneMs ?? 0] as [string, number]),
    )
    writeFileSync(join(chartsDir, `${name}-time.svg`), barChart(`${name}: ms until every buyer had an answer (median)`, times))
    md += `![${name}, answers by outcome](benchmarks/${name}-outcomes.svg)\n\n![${name}, time to answer everyone](benchmarks/${name}-time.svg)\n\n`
  }
  for (const r of group) {
    if (group.length > 1) md += `### ${r.variant ?? 'now'}\n\n`
    const bars = Object.entries(r.throughput) as [string, number][]
    writeFileSync(join(chartsDir, `${fileOf(r)}.svg`), barChart(`${titleOf(r)}: ${r.unit} (median of ${r.rounds ?? '?'} rounds)`, bars))
    md += `![${titleOf(r)}](benchmarks/${fileOf(r)}.svg)\n\n`
    const timeline = Object.entries(r.arms ?? {}).flatMap(([arm, a]) => (a.goodputBySecond ? [[arm, a.goodputBySecond] as [string, readonly number[]]] : []))
    if (timeline.length > 0) {
      writeFileSync(join(chartsDir, `${fileOf(r)}-timeline.svg`), lineChart(`${titleOf(r)}: ${r.timelineUnit ?? r.unit}, second by second`, timeline))
      md += `![${titleOf(r)}, second by second](benchmarks/${fileOf(r)}-timeline.svg)\n\n`
    }
    if (r.arms && burstResults.includes(r)) md += `${burstTable(r.arms)}\n`
    md += `${bars.map(([k, v]) => `- ${k}: ${v.toLocaleString('en-US')} ${r.unit}`).join('\n')}\n- ratio: **${r.ratio}×** (goal ${r.goalText ?? `≥ ${r.goal}×`})\n`
    if (r.soldShare)
      md += `- units sold ÷ stock, worst repetition: ${Object.entries(r.soldShare)
        .map(([arm, x]) => `${arm} **${x}**`)
        .join(' · ')}\n`
    if (r.checks)
      md += `${Object.entries(r.checks)
        .map(([key, c]) => `- ${c.label ?? key}: **${c.value}** (goal ${c.goal})${r.met && key in r.met ? (r.met[key] ? ' ✓' : ' ✗') : ''}`)
        .join('\n')}\n`
    if (r.orders) md += `- ${r.orders} orders per arm${r.batchSize ? `, batches of ${r.batchSize}` : ''}\n`
    if (r.services)
      md += `- services measured: commit ${r.services.commit}${r.services.modified ? ' with uncommitted changes in services/ or packages/' : ''}\n`
    if (r.machine) md += `- ${r.machine}\n`
    if (r.note) md += `\n${r.note}\n`
  }
}
writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), md)
console.log(`docs/benchmarks.md: ${results.length} case(s)`)
