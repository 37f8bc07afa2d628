export { metricValue, waitFor } from '@flashsale/testkit'
import type { Database, ReadOptions } from '../src/index.ts'

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
