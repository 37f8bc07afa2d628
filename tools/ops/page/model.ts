/**
 * What the ops tool sends the page at GET /api/dashboard: the panels of the Grafana dashboard file, as
 * src/dashboard.ts reads them. Types only, shared by the server and the page.
 */
export type PanelKind = 'stat' | 'timeseries' | 'table'

export interface OpsQuery {
  /** PromQL, with Grafana's `$__rate_interval` replaced by the page's rate window. */
  readonly expr: string
  /** Grafana's legend template: `{{label}}` is replaced by the series' label value. */
  readonly legend: string
}

export interface OpsPanel {
  readonly id: number
  readonly kind: PanelKind
  readonly title: string
  readonly description: string
  /** Grafana's unit id (reqps, s, short); the page formats by it. */
  readonly unit: string
  /** Grafana's grid width, 1-24. */
  readonly width: number
  /** A stat's first non-base threshold step: at or above it the value is shown as bad. */
  readonly badAt?: number
  readonly queries: readonly OpsQuery[]
}

export interface OpsRow {
  readonly title: string
  readonly panels: readonly OpsPanel[]
}

export interface OpsDashboard {
  readonly uid: string
  readonly title: string
  readonly rows: readonly OpsRow[]
  /** Where the page links to for Prometheus's own UI (its /alerts). */
  readonly prometheusUrl?: string
}
