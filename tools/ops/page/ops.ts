/**
 * The ops page: draws the panels of GET /api/dashboard and refreshes them every REFRESH_MS from Prometheus
 * (through the ops tool, GET /api/prom/...), with the marks of GET /api/events as red lines on every chart.
 * Charts are uPlot (https://github.com/leeoniya/uPlot), served by the ops tool. A panel whose query fails
 * says so in red; the rest go on. The page marks its state for the browser test: body[data-state] is
 * "live" after a refresh in which every query answered, and each panel has data-has-data="true" once it
 * drew a value.
 */
import uPlot from 'uplot'
import type { OpsDashboard, OpsPanel } from './model.ts'
import { formatValue, toColumns, type PromSeries, type QueryResult } from './series.ts'

interface OpsEvent {
  readonly at: number
  readonly kind: string
  readonly text: string
}

const REFRESH_MS = Number(new URLSearchParams(location.search).get('refresh') ?? 2000) || 2000
const STEP = 1 // seconds: Prometheus scrapes the native stack every second
const PALETTE = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9', '#705da0', '#508642', '#cca300', '#447ebc', '#c15c17']

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
let windowSeconds = Number($<HTMLSelectElement>('window').value)
let paused = false
let events: OpsEvent[] = []

class ApiError extends Error {}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(path, { cache: 'no-store' })
  const body = (await res.json().catch(() => undefined)) as { detail?: string; title?: string } | undefined
  if (!res.ok) throw new ApiError(body?.detail ?? body?.title ?? `HTTP ${res.status}`)
  return body as T
}

const prom = <T>(endpoint: string, params: Record<string, string | number>) =>
  api<{ data: T }>(`/api/prom/${endpoint}?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`).then((r) => r.data)

/** One drawn panel: refresh(now) asks its queries and redraws; it resolves false when a query failed. */
interface View {
  readonly panel: OpsPanel
  refresh(now: number): Promise<boolean>
}

function panelElement(panel: OpsPanel): { root: HTMLElement; body: HTMLElement; error: HTMLElement } {
  const root = document.createElement('section')
  root.className = `panel ${panel.kind}`
  root.style.gridColumn = `span ${panel.width}`
  root.dataset.panel = String(panel.id)
  root.dataset.hasData = 'false'
  root.title = panel.description
  const h = document.createElement('h3')
  h.textContent = panel.title
  const error = document.createElement('div')
  error.className = 'error'
  const body = document.createElement('div')
  root.append(h, error, body)
  return { root, body, error }
}

function failed(error: HTMLElement, err: unknown): false {
  error.textContent = err instanceof Error ? err.message : String(err)
  return false
}

function statView(panel: OpsPanel, el: ReturnType<typeof panelElement>): View {
  const value = document.createElement('div')
  value.className = 'value'
  el.body.append(value)
  return {
    panel,
    async refresh(now) {
      try {
        const data = await prom<{ result: { value: [number, string] }[] }>('query', { query: panel.queries[0]!.expr, time: now })
        const v = data.result.length > 0 ? Number(data.result[0]!.value[1]) : null
        value.textContent = formatValue(v, panel.unit)
        el.root.classList.toggle('bad', v !== null && panel.badAt !== undefined && v >= panel.badAt)
        el.root.classList.toggle('good', v !== null && panel.badAt !== undefined && v < panel.badAt)
        if (v !== null) el.root.dataset.hasData = 'true'
        el.error.textContent = ''
        return true
      } catch (err) {
        return failed(el.error, err)
      }
    },
  }
}

function tableView(panel: OpsPanel, el: ReturnType<typeof panelElement>): View {
  return {
    panel,
    async refresh(now) {
      try {
        const data = await prom<{ result: { metric: Record<string, string> }[] }>('query', { query: panel.queries[0]!.expr, time: now })
        const hidden = new Set(['__name__', 'alertstate', 'stack'])
        const columns = [...new Set(data.result.flatMap((r) => Object.keys(r.metric)))]
          .filter((k) => !hidden.has(k))
          .sort((a, b) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)))
        el.body.replaceChildren()
        if (data.result.length === 0) {
          const empty = document.createElement('div')
          empty.className = 'empty'
          empty.textContent = 'none'
          el.body.append(empty)
        } else {
          const table = document.createElement('table')
          const head = table.createTHead().insertRow()
          for (const c of columns) head.append(Object.assign(document.createElement('th'), { textContent: c }))
          const tbody = table.createTBody()
          for (const r of data.result) {
            const row = tbody.insertRow()
            for (const c of columns) row.insertCell().textContent = r.metric[c] ?? ''
          }
          el.body.append(table)
        }
        el.root.dataset.hasData = 'true' // "none firing" is an answer too
        el.error.textContent = ''
        return true
      } catch (err) {
        return failed(el.error, err)
      }
    },
  }
}

/** Red vertical lines at the events, with their text, drawn over the plot (a uPlot draw hook). */
function eventMarks(): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx
        const [min, max] = [u.scales.x!.min!, u.scales.x!.max!]
        ctx.save()
        ctx.strokeStyle = ctx.fillStyle = getComputedStyle(document.body).getPropertyValue('--mark') || '#ff5c5c'
        ctx.setLineDash([4, 3])
        ctx.font = `${Math.round(10 * devicePixelRatio)}px system-ui`
        const shown = events.filter((e) => e.at / 1000 >= min && e.at / 1000 <= max)
        for (const [i, e] of shown.entries()) {
          const x = Math.round(u.valToPos(e.at / 1000, 'x', true))
          ctx.beginPath()
          ctx.moveTo(x, u.bbox.top)
          ctx.lineTo(x, u.bbox.top + u.bbox.height)
          ctx.stroke()
          // Labels step down one line per mark, so marks close together stay readable.
          ctx.fillText(e.text, x + 3 * devicePixelRatio, u.bbox.top + (10 + 11 * (i % 4)) * devicePixelRatio)
        }
        ctx.restore()
      },
    },
  }
}

function chartView(panel: OpsPanel, el: ReturnType<typeof panelElement>): View {
  let chart: uPlot | undefined
  let labels = ''
  const size = () => ({ width: Math.max(200, el.body.clientWidth), height: 180 })
  new ResizeObserver(() => chart?.setSize(size())).observe(el.body)
  return {
    panel,
    async refresh(now) {
      const start = now - windowSeconds
      const answers = await Promise.allSettled(
        panel.queries.map((q) =>
          prom<{ result: PromSeries[] }>('query_range', { query: q.expr, start, end: now, step: STEP }).then((d): QueryResult => ({
            legend: q.legend,
            series: d.result,
          })),
        ),
      )
      const bad = answers.find((a) => a.status === 'rejected')
      const columns = toColumns(
        answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : [])),
        start,
        now,
        STEP,
      )
      const data: uPlot.AlignedData = [columns.times, ...columns.series.map((s) => s.values)]
      const key = columns.series.map((s) => s.label).join('\n')
      if (chart && key === labels) chart.setData(data)
      else {
        chart?.destroy()
        labels = key
        chart = new uPlot(
          {
            ...size(),
            plugins: [eventMarks()],
            // From 0 (or the lowest value) to a little above the highest; an all-zero series gets 0-1, not uPlot's 0-100.
            scales: { x: { time: true }, y: { range: (_u, lo, hi) => [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1] } },
            axes: [
              { stroke: '#8b96a3', grid: { stroke: '#2a323c' } },
              { stroke: '#8b96a3', grid: { stroke: '#2a323c' }, size: 60, values: (_u, ticks) => ticks.map((v) => formatValue(v, panel.unit)) },
            ],
            series: [
              {},
              ...columns.series.map((s, i) => ({
                label: s.label,
                stroke: PALETTE[i % PALETTE.length]!,
                width: 1.5,
                spanGaps: false,
                value: (_u: uPlot, v: number | null) => formatValue(v, panel.unit),
              })),
            ],
          },
          data,
          el.body,
        )
      }
      if (columns.series.some((s) => s.values.some((v) => v !== null))) el.root.dataset.hasData = 'true'
      if (bad) return failed(el.error, bad.reason)
      el.error.textContent = columns.series.length === 0 ? 'no data yet' : ''
      return true
    },
  }
}

function build(dashboard: OpsDashboard): View[] {
  document.title = $('title').textContent = dashboard.title
  const views: View[] = []
  const rows = $('rows')
  for (const row of dashboard.rows) {
    const h = document.createElement('h2')
    h.textContent = row.title
    const grid = document.createElement('div')
    grid.className = 'grid'
    rows.append(h, grid)
    for (const panel of row.panels) {
      const el = panelElement(panel)
      grid.append(el.root)
      views.push(panel.kind === 'stat' ? statView(panel, el) : panel.kind === 'table' ? tableView(panel, el) : chartView(panel, el))
    }
  }
  return views
}

function showEvents() {
  const strip = $('events')
  strip.replaceChildren()
  const recent = events.slice(-8).reverse()
  if (recent.length === 0) strip.textContent = 'no chaos drill or flash sale marked in this window'
  for (const e of recent) {
    const span = document.createElement('span')
    span.className = 'mark'
    span.textContent = `${new Date(e.at).toLocaleTimeString()} ${e.kind}: ${e.text}`
    strip.append(span)
  }
}

async function main() {
  const status = $('status')
  const dashboard = await api<OpsDashboard>('/api/dashboard')
  const views = build(dashboard)
  $<HTMLSelectElement>('window').addEventListener('change', (e) => (windowSeconds = Number((e.target as HTMLSelectElement).value)))
  const pause = $<HTMLButtonElement>('pause')
  pause.addEventListener('click', () => {
    paused = !paused
    pause.textContent = paused ? 'resume' : 'pause'
  })
  if (dashboard.prometheusUrl) $<HTMLAnchorElement>('prometheus').href = `${dashboard.prometheusUrl}/alerts`

  for (;;) {
    if (!paused && !document.hidden) {
      const now = Math.floor(Date.now() / 1000)
      try {
        events = (await api<{ events: OpsEvent[] }>(`/api/events?since=${(now - windowSeconds) * 1000}`)).events
        showEvents()
      } catch {
        // the marks are extras; the charts go on without them
      }
      const ok = await Promise.all(views.map((v) => v.refresh(now).catch(() => false)))
      const failures = ok.filter((x) => !x).length
      status.className = `status ${failures === 0 ? 'live' : 'down'}`
      status.textContent =
        failures === 0 ? `live · ${new Date(now * 1000).toLocaleTimeString()}` : `${failures} panel(s) failing · ${new Date(now * 1000).toLocaleTimeString()}`
      document.body.dataset.state = failures === 0 ? 'live' : 'degraded'
    }
    await new Promise((r) => setTimeout(r, REFRESH_MS))
  }
}

main().catch((err: unknown) => {
  document.body.dataset.state = 'failed'
  $('status').className = 'status down'
  $('status').textContent = `the page could not start: ${err instanceof Error ? err.message : String(err)}`
  throw err
})
