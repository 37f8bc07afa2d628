import { setTimeout as sleep } from 'node:timers/promises'
import type { Registry } from 'prom-client'
import type { Database, ReadOptions } from '../src/index.ts'

/** Polls `probe` until it returns true; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await sleep(50)
  }
}

export interface ServedBy {
  readonly standby: boolean
  readonly port: number
}

const WHO = 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port'

/** Where a read() ran, told by the serving connection itself. */
export async function readServedBy(db: Database, options?: ReadOptions): Promise<ServedBy> {
  const { rows } = await db.read<ServedBy>(WHO, [], options)
  const row = rows[0]
  if (!row) throw new Error('no row')
  return { standby: row.standby, port: row.port }
}

export async function writeServedBy(db: Database): Promise<ServedBy> {
  const { rows } = await db.query<ServedBy>(WHO)
  const row = rows[0]
  if (!row) throw new Error('no row')
  return { standby: row.standby, port: row.port }
}

export const portOf = (url: string): number => Number(new URL(url).port)

/** The value of one labelled series of a metric, 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
  return match?.value ?? 0
}
