/**
 * The ops page's pure parts: the dashboard file read as panels (src/dashboard.ts), Prometheus answers laid out
 * for uPlot and values formatted (page/series.ts), the marks file (src/events.ts), the data tier's states
 * (src/datatier.ts). The page itself runs in a real browser in make test's end-to-end phase (src/bin/check-page.ts).
 */
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { loadDashboard, parseDashboard } from '../src/dashboard.ts'
import { pgNodeState, redisNodeState, sentinelFields } from '../src/datatier.ts'
import { parseEvent, readEvents } from '../src/events.ts'
import { formatValue, legendFor, toColumns } from '../page/series.ts'

const LIVE = join(import.meta.dirname, '..', '..', '..', 'infra', 'grafana', 'dashboards', 'flash-sale-live.json')
const ds = { type: 'prometheus', uid: 'prometheus' }
const row = (id: number, title: string) => ({ id, type: 'row', title, gridPos: { h: 1, w: 24, x: 0, y: 0 } })
const ts = (id: number, expr: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'timeseries',
  title: `panel ${id}`,
  datasource: ds,
  gridPos: { h: 8, w: 12, x: 0, y: 1 },
  targets: [{ refId: 'A', expr, legendFormat: '{{job}}' }],
  ...extra,
})
const dashboard = (panels: unknown[]) => ({ uid: 'u', title: 'T', panels })

describe('the dashboard file as the page draws it', () => {
  it("reads the project's live dashboard: every panel drawable, the rows a run is watched by, no Grafana variable left", () => {
    const d = loadDashboard(LIVE, '5s')
    assert.equal(d.uid, 'flash-sale-live')
    assert.deepEqual(
      d.rows.map((r) => r.title),
      ['At a glance', 'Orders', 'Gateway', 'Queue', 'Data tier', 'Waiting room', 'Alerts'],
    )
    const panels = d.rows.flatMap((r) => r.panels)
    assert.ok(panels.length >= 15)
    for (const p of panels) for (const q of p.queries) assert.doesNotMatch(q.expr, /\$__|\$\{/, `${p.title}: ${q.expr}`)
    const exprs = panels.flatMap((p) => p.queries.map((q) => q.expr)).join('\n')
    for (const metric of [
      'order_placements_total',
      'gateway_concurrency_limit',
      'gateway_queue_length',
      'gateway_breaker_state',
      'order_worker_consumer_lag_messages',
      'order_dlq_depth_messages',
      'datatier_pg_node_state',
      'datatier_redis_node_state',
      'db_replica_lag_seconds',
      'inventory_ledger_units',
      'ALERTS',
    ]) {
      assert.match(exprs, new RegExp(metric), `a panel shows ${metric}`)
    }
    assert.equal(panels.find((p) => p.title === 'Oversold units (ledger)')?.badAt, 1, 'a stat carries its red threshold')
  })

  it("replaces Grafana's $__rate_interval with the page's window, and keeps the legend template", () => {
    const d = parseDashboard(dashboard([row(1, 'R'), ts(2, 'rate(x_total[$__rate_interval])')]), '7s')
    const p = d.rows[0]!.panels[0]!
    assert.deepEqual(p.queries, [{ expr: 'rate(x_total[7s])', legend: '{{job}}' }])
    assert.equal(p.kind, 'timeseries')
    assert.equal(p.width, 12)
    assert.equal(p.unit, 'short', 'no unit: short')
  })

  it('refuses, naming the panel, what the page cannot draw', () => {
    const cases: [unknown, RegExp][] = [
      [dashboard([row(1, 'R'), ts(2, 'x', { type: 'piechart' })]), /panel 1 \('panel 2'\) is a 'piechart' panel; the ops page draws stat, timeseries, table/],
      [dashboard([ts(2, 'x')]), /comes before the first row/],
      [dashboard([row(1, 'R'), ts(2, 'x', { targets: [] })]), /has no targets/],
      [dashboard([row(1, 'R'), ts(2, 'x', { targets: [{ refId: 'A' }] })]), /target 0 expr must be a non-empty string/],
      [dashboard([row(1, 'R'), ts(2, 'x'), ts(2, 'y')]), /panel id 2 is used twice/],
      [dashboard([row(1, 'R'), ts(2, 'x', { gridPos: { w: 'wide' } })]), /gridPos.w must be an integer/],
      [{ uid: 'u', title: 'T' }, /panels must be an array/],
      [[], /the dashboard must be an object/],
    ]
    for (const [json, message] of cases) assert.throws(() => parseDashboard(json, '5s'), message)
    assert.throws(() => parseDashboard(dashboard([]), '5 seconds'), /rate window must be a Prometheus duration/)
    assert.throws(() => loadDashboard('/nonexistent/dashboard.json', '5s'), /cannot read the dashboard \/nonexistent\/dashboard.json/)
  })
})

describe('Prometheus answers for uPlot', () => {
  it('fills a legend template from the labels; an empty one lists them', () => {
    assert.equal(legendFor('shed: {{reason}} ({{ upstream }})', { reason: 'queue_full', upstream: 'order' }), 'shed: queue_full (order)')
    assert.equal(legendFor('{{missing}}x', {}), 'x')
    assert.equal(legendFor('', { __name__: 'ALERTS', alertname: 'A' }), '{alertname="A"}')
    assert.equal(legendFor('', {}), 'value')
  })

  it('lays every series on one time axis: missing points and NaN are gaps (null), never 0; series sorted by label', () => {
    const c = toColumns(
      [
        {
          legend: '{{k}}',
          series: [
            {
              metric: { k: 'b' },
              values: [
                [100, '1'],
                [102, '3'],
              ],
            },
          ],
        },
        {
          legend: 'a',
          series: [
            {
              metric: {},
              values: [
                [101, 'NaN'],
                [103, '+Inf'],
                [104, '2.5'],
                [999, '7'],
              ],
            },
          ],
        },
      ],
      100,
      104,
      1,
    )
    assert.deepEqual(c.times, [100, 101, 102, 103, 104])
    assert.deepEqual(c.series, [
      { label: 'a', values: [null, null, null, null, 2.5] },
      { label: 'b', values: [1, null, 3, null, null] },
    ])
    assert.deepEqual(toColumns([], 10, 10, 1), { times: [10], series: [] })
    assert.throws(() => toColumns([], 10, 5, 1), /bad range/)
    assert.throws(() => toColumns([], 0, 5, 0), /bad range/)
  })

  it('formats values by Grafana unit', () => {
    assert.equal(formatValue(0.0123, 's'), '12.3 ms')
    assert.equal(formatValue(0.5, 's'), '500 ms')
    assert.equal(formatValue(2, 's'), '2 s')
    assert.equal(formatValue(1234, 'reqps'), '1.23k/s')
    assert.equal(formatValue(100, 'short'), '100')
    assert.equal(formatValue(2_500_000, 'short'), '2.5M')
    assert.equal(formatValue(1536, 'bytes'), '1.5 KiB')
    assert.equal(formatValue(null, 'short'), '–')
    assert.equal(formatValue(Number.NaN, 's'), '–')
  })
})

describe('the marks file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-events-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('reads the marks at or after a time, skipping lines that are not marks; no file is no marks', async () => {
    const file = join(dir, 'events.jsonl')
    assert.deepEqual(await readEvents(file, 0), [])
    writeFileSync(file, '{"at":1000,"kind":"chaos","text":"inject primary"}\nnot json\n{"at":"x","kind":"a","text":"b"}\n')
    appendFileSync(file, '{"at":2000,"kind":"demo","text":"flash sale starts"}\n{"at":3000,"kind":"chaos","text":"recover primary"}')
    assert.deepEqual(await readEvents(file, 0), [
      { at: 1000, kind: 'chaos', text: 'inject primary' },
      { at: 2000, kind: 'demo', text: 'flash sale starts' },
      { at: 3000, kind: 'chaos', text: 'recover primary' },
    ])
    assert.deepEqual(
      (await readEvents(file, 2000)).map((e) => e.at),
      [2000, 3000],
    )
    assert.deepEqual(
      (await readEvents(file, 0, 1)).map((e) => e.at),
      [3000],
      'the newest, up to the limit',
    )
  })

  it('reads only the end of a long file, never a cut line', async () => {
    const file = join(dir, 'long.jsonl')
    const line = (i: number) => JSON.stringify({ at: i, kind: 'k', text: 'x'.repeat(150) })
    writeFileSync(file, Array.from({ length: 3000 }, (_, i) => line(i)).join('\n') + '\n')
    const events = await readEvents(file, 0, 10_000)
    assert.ok(events.length > 100 && events.length < 3000, `only the tail: ${events.length}`)
    assert.equal(events.at(-1)!.at, 2999)
    assert.deepEqual(
      events.map((e) => e.at),
      Array.from({ length: events.length }, (_, i) => 3000 - events.length + i),
      'consecutive, none garbled',
    )
  })

  it('bounds what one mark carries', () => {
    assert.equal(parseEvent(JSON.stringify({ at: 1, kind: 'k', text: 'y'.repeat(500) }))!.text.length, 200)
    assert.equal(parseEvent('{"at":1e999,"kind":"k","text":"t"}'), undefined, 'Infinity is not a time')
    assert.equal(parseEvent('null'), undefined)
  })
})

describe("the data tier's states", () => {
  it("PostgreSQL: primary 2, a standby in sync 1, a node on its way or unhealthy 0 (pg_auto_failover's states)", () => {
    const node = (reportedState: string, goalState: string, health = 1) => pgNodeState({ host: 'h', port: 1, reportedState, goalState, health })
    assert.equal(node('primary', 'primary'), 2)
    assert.equal(node('single', 'single'), 2)
    assert.equal(node('wait_primary', 'wait_primary'), 2)
    assert.equal(node('secondary', 'secondary'), 1)
    assert.equal(node('secondary', 'secondary', 0), 0, 'the monitor found it unhealthy')
    assert.equal(node('secondary', 'secondary', -1), 1, 'health not known yet')
    assert.equal(node('primary', 'draining'), 0, 'being demoted')
    assert.equal(node('catchingup', 'catchingup'), 0)
    assert.equal(node('secondary', 'prepare_promotion'), 0)
  })

  it('Redis: master 2, replica 1, anything Sentinel flags as down 0', () => {
    assert.equal(redisNodeState('master'), 2)
    assert.equal(redisNodeState('slave'), 1)
    assert.equal(redisNodeState('slave,s_down'), 0)
    assert.equal(redisNodeState('master,s_down,o_down'), 0)
    assert.equal(redisNodeState('slave,disconnected'), 0)
    assert.equal(redisNodeState(''), 0)
    assert.deepEqual(sentinelFields(['ip', '127.0.0.1', 'port', 6379, 'flags', 'master']), { ip: '127.0.0.1', port: '6379', flags: 'master' })
    assert.throws(() => sentinelFields('ERR'), /expected a field-value list/)
  })
})
