import type pg from 'pg'
import type { ConnectionSource } from './primary.ts'

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable'

export interface TransactionOptions {
  /** Default: the server's default_transaction_isolation (read committed). */
  readonly isolation?: IsolationLevel
}

const BEGIN: Record<IsolationLevel, string> = {
  'read committed': 'BEGIN ISOLATION LEVEL READ COMMITTED',
  'repeatable read': 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
}

/**
 * Runs `fn` inside BEGIN … COMMIT on one pooled connection; any error rolls back and is rethrown.
 * Every statement of the transaction must go through the `client` given to `fn`, never the pool.
 */
export async function withTransaction<T>(pool: ConnectionSource, fn: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect()
  let unusable: Error | undefined
  // A checked-out client has no pool listener: without ours, a connection dropped mid-transaction would
  // be an uncaught 'error' event that kills the process.
  const onError = (err: Error) => void (unusable = err)
  client.on('error', onError)
  try {
    await client.query(options.isolation ? BEGIN[options.isolation] : 'BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    unusable = (await rollback(client)) ?? unusable
    pool.reportError?.(err, client) // a PrimaryPool looks for the primary again if this says it moved
    throw err
  } finally {
    client.off('error', onError)
    // release(err) destroys the connection: one whose ROLLBACK failed may have a dead socket or a
    // transaction still open, and must not be handed to the next caller.
    client.release(unusable)
  }
}

/** ROLLBACK; returns its error when the connection could not even do that. */
async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK')
    return undefined
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err))
  }
}
