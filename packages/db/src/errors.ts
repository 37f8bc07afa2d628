import pg from 'pg'

/**
 * SQLSTATE classes and codes that say "this server cannot serve you now", not "your SQL is wrong"
 * (PostgreSQL manual, Appendix A): 08 connection exception, 28 invalid authorization, 3D invalid catalog
 * name (a replica that has not replayed CREATE DATABASE yet), 53 insufficient resources (too many
 * connections), 57P01-03 shutdown / crash / cannot connect now (a replica still starting), 25006
 * read_only_sql_transaction (a write reached a node that is a standby, or read-only for the moment of a
 * failover: pg_auto_failover sets default_transaction_read_only on the node it promotes until the old
 * primary is fenced; `make chaos-primary` once dead-lettered 9 orders the worker took for poison on it).
 */
const UNAVAILABLE_CLASSES = new Set(['08', '28', '3D', '53'])
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '25006'])

/**
 * Every connection of a pool was in use when the wait for one ran out: this process is saturated, the node
 * behind it may be fine. Not a node failure (the router neither marks the node down nor tries another: the
 * request's budget is spent), but an outage to the caller: the message keeps pg-pool's, which
 * `isDependencyUnavailable` answers 503 + Retry-After (`make chaos-pool-exhaustion`).
 */
export class PoolSaturatedError extends Error {
  constructor(pool: string, options?: ErrorOptions) {
    super(`timeout exceeded when trying to connect: every connection of ${pool} is in use`, options)
    this.name = 'PoolSaturatedError'
  }
}

/** pg-pool's answer when no connection came within connectionTimeoutMillis (a free one, or a new socket). */
export function isAcquireTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'timeout exceeded when trying to connect'
}

/** pg-pool's acquire timeout on a pool whose every connection was in use. */
export function saturationOf(pool: unknown, err: unknown, name: string): PoolSaturatedError | undefined {
  const p = pool as { totalCount?: unknown; idleCount?: unknown; options?: { max?: unknown } }
  if (!isAcquireTimeout(err)) return undefined
  if (typeof p.totalCount !== 'number' || typeof p.options?.max !== 'number' || p.totalCount < p.options.max || p.idleCount !== 0) return undefined
  return new PoolSaturatedError(name, { cause: err })
}

/**
 * True when a query failed because of the connection or the server's state, so running it on another
 * server may succeed. False for errors the server reported about the statement (syntax, constraint,
 * statement timeout, serialization) and for programming errors: those fail the same way anywhere.
 * Decided by error class and code, never by message text.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? ''
    return UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code)
  }
  // TypeError/RangeError come from our own arguments (e.g. a value pg cannot serialize).
  if (err instanceof TypeError || err instanceof RangeError) return false
  // The query's own budget (query_timeout) is spent, or our own pool is full: another node would start a
  // second attempt past the request's budget.
  if (err instanceof PoolSaturatedError || (err instanceof Error && err.message === 'Query read timeout')) return false
  // Everything else that pg raises without a SQLSTATE is about the socket: ECONNREFUSED/ECONNRESET,
  // "Connection terminated unexpectedly", connect and read timeouts.
  return err instanceof Error
}

/** An error as one line for a state or a message: its code (SQLSTATE or socket code) when it has one, then its message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
