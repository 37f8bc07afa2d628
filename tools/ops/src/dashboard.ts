/**
 * The ops page's panels come from a Grafana dashboard file (infra/grafana/dashboards/flash-sale-live.json):
 * one definition, so the page and the compose stack's Grafana show the same panels by construction. This
 * module reads the part of Grafana's dashboard model the page draws (rows, and stat, timeseries and table
 * panels with PromQL targets) and refuses anything else by name, so a panel added in Grafana's editor
 * that the page cannot draw fails `make test` instead of silently missing from the page.
 * Model: https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
 */
import { readFileSync } from 'node:fs'

import type { OpsDashboard, OpsPanel, PanelKind } from '../page/model.ts'

export type { OpsDashboard, OpsPanel, PanelKind }

const KINDS: readonly string[] = ['stat', 'timeseries', 'table'] satisfies PanelKind[]

/**
 * @param rateWindow what `$__rate_interval` becomes (Grafana makes it at least 4 scrape intervals; the
 *   page does the same with its 1 s scrapes), e.g. '5s'.
 */
export function parseDashboard(json: unknown, rateWindow: string): OpsDashboard {
  if (!/^[1-9][0-9]*(ms|s|m)$/.test(rateWindow)) throw new Error(`rate window must be a Prometheus duration like 5s, got '${rateWindow}'`)
  const d = object(json, 'the dashboard')
  const panels = array(d.panels, 'the dashboard’s panels')
  const rows: { title: string; panels: OpsPanel[] }[] = []
  for (const [i, raw] of panels.entries()) {
    const p = object(raw, `panel ${i}`)
    const where = `panel ${i} ('${typeof p.title === 'string' ? p.title : '?'}')`
    if (p.type === 'row') {
      rows.push({ title: string(p.title, `${where} title`), panels: [] })
      continue
    }
    if (typeof p.type !== 'string' || !KINDS.includes(p.type)) {
      throw new Error(`${where} is a '${String(p.type)}' panel; the ops page draws ${KINDS.join(', ')} and rows`)
    }
    if (rows.length === 0) throw new Error(`${where} comes before the first row; every panel belongs to a row`)
    const targets = array(p.targets, `${where} targets`)
    if (targets.length === 0) throw new Error(`${where} has no targets`)
    const defaults = object(object(p.fieldConfig ?? {}, `${where} fieldConfig`).defaults ?? {}, `${where} fieldConfig.defaults`)
    const grid = object(p.gridPos, `${where} gridPos`)
    const steps = Array.isArray(object(defaults.thresholds ?? {}, `${where} thresholds`).steps) ? (defaults.thresholds as { steps: unknown[] }).steps : []
    const badAt = steps.map((s) => (typeof s === 'object' && s !== null ? (s as { value?: unknown }).value : undefined)).find((v) => typeof v === 'number')
    rows.at(-1)!.panels.push({
      id: integer(p.id, `${where} id`),
      kind: p.type as PanelKind,
      title: string(p.title, `${where} title`),
      description: typeof p.description === 'string' ? p.description : '',
      unit: typeof defaults.unit === 'string' ? defaults.unit : 'short',
      width: Math.min(24, Math.max(1, integer(grid.w, `${where} gridPos.w`))),
      ...(typeof badAt === 'number' ? { badAt } : {}),
      queries: targets.map((t, j) => {
        const target = object(t, `${where} target ${j}`)
        const expr = string(target.expr, `${where} target ${j} expr`)
        return {
          expr: expr.replaceAll('$__rate_interval', rateWindow),
          legend: typeof target.legendFormat === 'string' ? target.legendFormat : '',
        }
      }),
    })
  }
  const ids = rows.flatMap((r) => r.panels.map((p) => p.id))
  const dup = ids.find((id, i) => ids.indexOf(id) !== i)
  if (dup !== undefined) throw new Error(`panel id ${dup} is used twice`)
  return { uid: string(d.uid, 'the dashboard uid'), title: string(d.title, 'the dashboard title'), rows: rows.filter((r) => r.panels.length > 0) }
}

export function loadDashboard(path: string, rateWindow: string): OpsDashboard {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new Error(`cannot read the dashboard ${path}: ${(err as Error).message}`, { cause: err })
  }
  return parseDashboard(json, rateWindow)
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be an object`)
  return v as Record<string, unknown>
}
function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what} must be an array`)
  return v
}
function string(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${what} must be a non-empty string`)
  return v
}
function integer(v: unknown, what: string): number {
  if (!Number.isInteger(v)) throw new Error(`${what} must be an integer`)
  return v as number
}
