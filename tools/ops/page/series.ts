/**
 * The ops page's pure parts, shared by the browser (page/ops.ts) and the unit tests: Grafana's legend
 * templates, Prometheus range results laid out as uPlot's aligned columns, and values formatted by unit.
 * No DOM and no Node APIs here.
 */

/** One series of a Prometheus range query (resultType "matrix"): values are [unix seconds, "number"]. */
export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>
  readonly values: readonly (readonly [number, string])[]
}

/** One query's answer and the legend template it is drawn with. */
export interface QueryResult {
  readonly legend: string
  readonly series: readonly PromSeries[]
}

export interface Columns {
  /** Unix seconds, start to end by step: uPlot's x column. */
  readonly times: number[]
  readonly series: { readonly label: string; readonly values: (number | null)[] }[]
}

/** Grafana's `{{label}}` legend template, filled from one series' labels (a missing label becomes ''). */
export function legendFor(template: string, labels: Readonly<Record<string, string>>): string {
  if (template === '') {
    const pairs = Object.entries(labels).filter(([k]) => k !== '__name__')
    return pairs.length > 0 ? `{${pairs.map(([k, v]) => `${k}="${v}"`).join(', ')}}` : 'value'
  }
  return template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => labels[name] ?? '')
}

/**
 * Lays the answers of a panel's queries (all asked with the same start, end and step) on one time axis,
 * as uPlot wants them: a point Prometheus did not return, or returned as NaN/±Inf, is a gap (null), never 0.
 * Series are sorted by label, so their colours stay put from one refresh to the next.
 */
export function toColumns(results: readonly QueryResult[], start: number, end: number, step: number): Columns {
  if (!(step > 0) || !(end >= start)) throw new Error(`bad range: start ${start}, end ${end}, step ${step}`)
  const n = Math.floor((end - start) / step) + 1
  const times = Array.from({ length: n }, (_, i) => start + i * step)
  const series: Columns['series'] = []
  for (const r of results) {
    for (const s of r.series) {
      const values: (number | null)[] = new Array<number | null>(n).fill(null)
      for (const [t, v] of s.values) {
        const i = Math.round((t - start) / step)
        const x = Number(v)
        if (i >= 0 && i < n && Number.isFinite(x)) values[i] = x
      }
      series.push({ label: legendFor(r.legend, s.metric), values })
    }
  }
  series.sort((a, b) => a.label.localeCompare(b.label))
  return { times, series }
}

/** A value as a person reads it, by Grafana's unit id (reqps, s, bytes, short). */
export function formatValue(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  switch (unit) {
    case 's':
      if (v === 0) return '0'
      if (Math.abs(v) < 1) return `${round(v * 1000)} ms`
      return `${round(v)} s`
    case 'reqps':
      return `${short(v)}/s`
    case 'bytes':
      return bytes(v)
    default:
      return short(v)
  }
}

function round(v: number): string {
  const a = Math.abs(v)
  const s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2)
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

function short(v: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${round(v / 1e6)}M`
  if (a >= 1e3) return `${round(v / 1e3)}k`
  return round(v)
}

function bytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${round(v)} ${units[i]}`
}
