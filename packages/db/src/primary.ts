/**
 * Writes go to the node that is the primary now. Given one host or several (a libpq multi-host URI, see
 * hosts.ts), a PrimaryPool asks each whether it takes writes (not in recovery, not read-only by default:
 * libpq's `target_session_attrs=read-write` test) and keeps a pool to the one that does. It looks again when a statement fails as if the primary moved (the server went away, or it answers
 * 25006 read_only_sql_transaction because it was demoted) and when its own check, once per interval, finds
 * the node in recovery. node-postgres has no multi-host support or `target_session_attrs`
 * (https://github.com/brianc/node-postgres/issues/1470), hence this.
 *
 * What it guarantees: no statement is sent to a node that said it is a standby at the last look, and a
 * demoted node refuses writes itself (25006), so none lands there. While no node is the primary (the
 * seconds of a failover) or two claim to be, every call fails fast with PrimaryUnavailableError (SQLSTATE
 * 08001), which services answer 503 + Retry-After; it never waits for a primary to appear.
 */
import pg from 'pg'
import { Counter, Gauge } from 'prom-client'
import { isDependencyUnavailable } from '@flashsale/resilience'
import { describeError } from './errors.ts'
import { perRegistry } from './per-registry.ts'
import { parseHosts, type PostgresHost } from './hosts.ts'
import { createPool, type PoolOptions } from './pool.ts'

/** What withTransaction and migrate need of a pool: a plain pg.Pool is one, and so is a PrimaryPool. */
export interface ConnectionSource {
  connect(): Promise<pg.PoolClient>
  /** Told about a statement that failed on a client from connect(), so a moved primary is noticed at once. */
  reportError?(err: unknown, client: pg.PoolClient): void
}

/** Something to run a statement on: a pg.Pool, a PrimaryPool. */
export type Queryable = Pick<PrimaryPool, 'query'>

export interface PrimaryPool extends ConnectionSource {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** host:port of the primary in use; undefined while none is known. */
  readonly current: string | undefined
  /** Resolves once a primary is known (looking if needed); rejects with PrimaryUnavailableError otherwise. */
  ready(): Promise<string>
  end(): Promise<void>
}

export interface PrimaryPoolOptions extends PoolOptions {
  /** How often the primary in use is asked whether it still is one. Default 1000 ms. */
  readonly checkIntervalMs?: number
  /** After a look that found no primary, calls fail at once for this long before the next look. Default 250 ms. */
  readonly retryAfterMs?: number
}

/** No node is the primary right now (or more than one claims to be): retry shortly. SQLSTATE 08001. */
export class PrimaryUnavailableError extends Error {
  override readonly name = 'PrimaryUnavailableError'
  /** sqlclient_unable_to_establish_sqlconnection: what libpq reports when no host fits target_session_attrs. */
  readonly code = '08001'
}

/**
 * Not writable (`standby`): in recovery, or read-only by default. The second is libpq's test for
 * `target_session_attrs=read-write` too: pg_auto_failover promotes a standby with default_transaction_read_only
 * on, and turns it off only once the old primary cannot take writes (its `stop_replication` state).
 */
const WRITABLE_SQL = "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only')::boolean AS standby"

type Outcome = 'found' | 'none' | 'ambiguous'

export function createPrimaryPool(url: string, options: PrimaryPoolOptions): PrimaryPool {
  const { checkIntervalMs = 1_000, retryAfterMs = 250, ...poolOptions } = options
  const hosts = parseHosts(url)
  const metrics = options.registry ? primaryMetrics(options.registry) : undefined
  const checkTimeoutMs = Math.max(checkIntervalMs, 1_000)
  // A one-connection pool per host for the role checks, so a busy write pool never delays a look.
  const checkPools = new Map(
    hosts.map((h) => [
      h.name,
      createPool(h.url, { role: 'primary', name: `${options.name}-role@${h.name}`, max: 1, min: 0, connectionTimeoutMillis: checkTimeoutMs }),
    ]),
  )
  // Write pools are opened on first use of a host and kept while it may be the primary.
  const pools = new Map<string, pg.Pool>()
  let current: PostgresHost | undefined
  let looking: Promise<PostgresHost> | undefined
  let failed: { at: number; error: PrimaryUnavailableError } | undefined
  let closed = false
  metrics?.known.set({ pool: options.name }, 0)

  function poolOf(host: PostgresHost): pg.Pool {
    let pool = pools.get(host.name)
    if (!pool) {
      pool = createPool(host.url, { ...poolOptions, name: `${options.name}@${host.name}` })
      pools.set(host.name, pool)
    }
    return pool
  }

  function retire(name: string): void {
    const pool = pools.get(name)
    pools.delete(name)
    void pool?.end().catch(() => {})
  }

  async function role(host: PostgresHost): Promise<'primary' | 'standby' | Error> {
    try {
      const query: pg.QueryConfig & { query_timeout: number } = { text: WRITABLE_SQL, query_timeout: checkTimeoutMs }
      const { rows } = await checkPools.get(host.name)!.query<{ standby: boolean }>(query)
      return rows[0]?.standby === false ? 'primary' : 'standby'
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err))
    }
  }

  function settle(outcome: Outcome, found?: PostgresHost): void {
    metrics?.lookups.inc({ pool: options.name, outcome })
    metrics?.known.set({ pool: options.name }, found ? 1 : 0)
  }

  async function look(): Promise<PostgresHost> {
    const roles = await Promise.all(hosts.map(role))
    const primaries = hosts.filter((_, i) => roles[i] === 'primary')
    hosts.forEach((h, i) => roles[i] === 'standby' && retire(h.name)) // demoted or never primary: no writes there
    if (primaries.length === 1) {
      current = primaries[0]!
      failed = undefined
      settle('found', current)
      return current
    }
    const why =
      primaries.length > 1
        ? `${primaries.map((h) => h.name).join(' and ')} all say they are the primary (a failover in progress?)`
        : `none of ${hosts.map((h, i) => `${h.name} (${describe(roles[i]!)})`).join(', ')} is the primary`
    const errors = roles.filter((r): r is Error => r instanceof Error)
    const error = new PrimaryUnavailableError(`no PostgreSQL primary to write to: ${why}`, errors.length ? { cause: new AggregateError(errors) } : undefined)
    failed = { at: Date.now(), error }
    settle(primaries.length > 1 ? 'ambiguous' : 'none')
    throw error
  }

  function acquire(): Promise<PostgresHost> {
    if (closed) return Promise.reject(new Error('the primary pool has been ended'))
    if (current) return Promise.resolve(current)
    if (failed && Date.now() - failed.at < retryAfterMs) return Promise.reject(failed.error)
    // One look at a time, however many callers are waiting for it.
    looking ??= look().finally(() => (looking = undefined))
    return looking
  }

  /**
   * A statement on `host` failed with `err`: if that says the server went away or is read-only now (25006,
   * 57P01, a refused or broken connection), the primary may have moved: look again. Only what the server or
   * the socket said counts; an error of the caller's own code inside a transaction says nothing about it.
   */
  function noteError(host: PostgresHost, err: unknown): void {
    if (current !== host) return // an error from before the last look says nothing about now
    if (isDependencyUnavailable(err)) current = undefined
  }

  // The primary in use is asked each interval whether it still is one: a demoted node that is still
  // reachable would otherwise be found only by the next write it refuses.
  let checking = false
  const timer = setInterval(() => {
    const host = current
    // One check at a time: a node that hangs must not collect a queue of them on its one-connection pool.
    if (!host || looking || checking) return
    checking = true
    void role(host).then((r) => {
      checking = false
      if (current !== host) return
      if (r === 'standby') {
        current = undefined
        retire(host.name)
      } else if (r instanceof Error) {
        current = undefined
      }
      if (!current) void acquire().catch(() => {}) // look now rather than on the next statement
    })
  }, checkIntervalMs)
  timer.unref()

  return {
    get current() {
      return current?.name
    },
    ready: () => acquire().then((h) => h.name),
    async query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]) {
      const host = await acquire()
      try {
        return await poolOf(host).query<R>(text, values)
      } catch (err) {
        noteError(host, err)
        throw err
      }
    },
    async connect() {
      const host = await acquire()
      let client: pg.PoolClient
      try {
        client = await poolOf(host).connect()
      } catch (err) {
        noteError(host, err)
        throw err
      }
      hostOfClient.set(client, host)
      return client
    },
    reportError(err, client) {
      const host = hostOfClient.get(client)
      if (host) noteError(host, err)
    },
    async end() {
      closed = true
      clearInterval(timer)
      await Promise.all([...pools.values(), ...checkPools.values()].map((p) => p.end().catch(() => {})))
      pools.clear()
    },
  }
}

/**
 * Each node's role now, asked once over a connection of its own (for tools and tests that need a one-off
 * answer; a PrimaryPool keeps asking by itself). An unreachable node's entry is the error.
 */
export async function nodeRoles(urls: readonly string[], timeoutMs = 5_000): Promise<Array<'primary' | 'standby' | Error>> {
  return Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
      try {
        await client.connect()
        const { rows } = await client.query<{ standby: boolean }>(WRITABLE_SQL)
        return rows[0]?.standby === false ? ('primary' as const) : ('standby' as const)
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err))
      } finally {
        await client.end().catch(() => {})
      }
    }),
  )
}

const hostOfClient = new WeakMap<pg.PoolClient, PostgresHost>()

function describe(r: 'primary' | 'standby' | Error): string {
  return r instanceof Error ? describeError(r) : r
}

interface PrimaryMetrics {
  readonly lookups: Counter<'pool' | 'outcome'>
  readonly known: Gauge<'pool'>
}
const primaryMetrics = perRegistry((registry): PrimaryMetrics => ({
  lookups: new Counter({
    name: 'db_primary_lookups_total',
    help: 'Looks for the PostgreSQL primary among the configured hosts, by outcome: found, none (a failover in progress, or all down), ambiguous (two claim it)',
    labelNames: ['pool', 'outcome'] as const,
    registers: [registry],
  }),
  known: new Gauge({
    name: 'db_primary_known',
    help: '1 while the pool knows which node is the primary, 0 while writes fail fast waiting for one',
    labelNames: ['pool'] as const,
    registers: [registry],
  }),
}))
