/**
 * Is this error a datastore (PostgreSQL, Redis) being unreachable or unable to serve right now, rather than
 * a bug or a bad request? Such an error is answered 503 + Retry-After (or a degraded answer), never 500:
 * the request may well succeed in a moment, on this instance or after a failover.
 *
 * Recognised, looking through `cause` and AggregateError members:
 * - socket errors of Node (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EHOSTUNREACH, ENETUNREACH,
 *   EAI_AGAIN, ENOTFOUND): the server is down, restarting or unreachable;
 * - PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html): class 08
 *   (connection exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting
 *   up or in recovery), 53300 too_many_connections, 25006 read_only_sql_transaction (a write reached a
 *   standby: the primary moved), 57014 query_canceled (statement_timeout: the server could not answer within
 *   the budget, e.g. behind a lock; `make chaos-pool-exhaustion`), 55P03 lock_not_available (lock_timeout);
 * - node-postgres without a code: "Connection terminated unexpectedly", "timeout exceeded when trying to
 *   connect" (pg-pool), "Client has encountered a connection error and is not queryable", "Query read timeout"
 *   (query_timeout: the answer did not come within the request's budget);
 * - ioredis: MaxRetriesPerRequestError, "Connection is closed.", "Stream isn't writeable and
 *   enableOfflineQueue options is false", "Command timed out" (commandTimeout), READONLY (a write reached a
 *   replica after a failover), LOADING (the server is loading its dataset), MASTERDOWN.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED'])
const PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '25006', '57014', '55P03'])
const MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Query read timeout$/,
  /is not queryable/,
  /^Connection is closed/,
  /enableOfflineQueue options is false/,
  /^Command timed out/,
  /^READONLY\b/,
  /^LOADING\b/,
  /^MASTERDOWN\b/,
]

export function isDependencyUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
  if (typeof e.code === 'string' && (SOCKET_CODES.has(e.code) || PG_CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true
  if (e.name === 'MaxRetriesPerRequestError') return true
  if (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))) return true
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDependencyUnavailable(inner, depth + 1))) return true
  return isDependencyUnavailable(e.cause, depth + 1)
}

/**
 * An HTTP answer that is a refusal the service means, not a failure of it: 503 with Retry-After, what a
 * service answers while a datastore behind it fails over (ADR 0028). A circuit breaker does not count it: the
 * instance is up and answering fast, and an open circuit would refuse, for its half-open wait, the calls it
 * serves again as soon as its datastore is back (ADR 0031). A bare 503 still counts.
 */
export function isRefusalAnswer(status: number, retryAfter: unknown): boolean {
  return status === 503 && retryAfter !== undefined && retryAfter !== null && retryAfter !== ''
}
