/**
 * CQRS read routing: writes go to the primary; reads go round-robin to the streaming replicas that are
 * reachable and close enough behind, else to the primary. A user who has just written reads from the
 * primary for a short window (read-your-own-writes), since the replicas may not have replayed it yet.
 *
 * Why one file: routing and the replicas' health share one state (which replica is up, how far behind);
 *   the pools themselves live in pool.ts and primary.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { Counter, Gauge, Registry } from 'prom-client'
import { describeError, isConnectionError, saturationOf } from './errors.ts'
import { perRegistry } from './per-registry.ts'
import { createPool, type PoolOptions } from './pool.ts'
import { createPrimaryPool, type PrimaryPool } from './primary.ts'
import type { RecentWrites } from './recent-writes.ts'

export type ReadTarget = 'replica' | 'primary'
/** Why a read went where it went: the `reason` label of db_reads_total. */
export type ReadReason = 'replica' | 'no_healthy_replica' | 'read_your_writes' | 'replica_error' | 'primary_unavailable'

export interface DatabaseOptions {
  /** Where writes go: one host, or several in libpq's multi-host form, of which the primary is used (primary.ts). */
  readonly primaryUrl: string
  /** Streaming replicas of the primary; none means every read goes to the primary. */
  readonly replicaUrls: readonly string[]
  /** A replica further behind than this is skipped until it catches up. Default 1000 ms. */
  readonly maxReplicaLagMs?: number
  /** How often each replica is asked whether it is up and how far behind it is. Default 1000 ms. */
  readonly healthCheckIntervalMs?: number
  /**
   * When no node could answer a read (each target failed to connect), it is tried once more after this
   * pause, on whatever answers then. During a PostgreSQL failover every node may be down at once for about
   * a second (pg_auto_failover restarts the standbys to detach them from the dead primary). Default 300 ms,
   * short enough for a read's budget; 0 turns it off.
   */
  readonly readRetryAfterMs?: number
  /** Needed for markWrite() and read-your-own-writes; see createRedisRecentWrites. */
  readonly recentWrites?: RecentWrites
  /** Where the router's and its pools' metrics go. Default: a private registry, never the global one. */
  readonly registry?: Registry
  /** Applied to every pool; `name` (default "db") prefixes each pool's name, e.g. "order@10.0.0.5:5432". */
  readonly poolOptions?: Omit<PoolOptions, 'role' | 'name' | 'registry'> & { readonly name?: string }
}

export interface ReadOptions {
  /** The user on whose behalf the read runs; enables read-your-own-writes. */
  readonly userId?: string
}

/** What a read needs of a pool: a replica's pg.Pool or the PrimaryPool both are one. */
export type ReadPool = Pick<PrimaryPool, 'query' | 'connect'>

export interface ReadChoice {
  readonly pool: ReadPool
  readonly target: ReadTarget
  readonly reason: ReadReason
}

export interface ReplicaState {
  /** host:port of the replica, also the `replica` label of its metrics. */
  readonly replica: string
  /** Whether reads are sent to it. */
  readonly healthy: boolean
  /** Why it is not healthy. */
  readonly down?: 'unreachable' | 'lagging' | 'not_standby'
  /** Replay lag at the last successful check; null before one or when unknown. */
  readonly lagMs: number | null
  readonly lastError?: string
  readonly checkedAt?: Date
}

export interface Database {
  /** The primary's pool, for writes and transactions (withTransaction(db.primary, ...)); follows a failover. */
  readonly primary: PrimaryPool
  /** Runs on the primary. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>
  /**
   * Runs on a healthy replica, else on the primary. A replica that fails with a connection-level error
   * is marked down and the read is retried once on the next target; SQL errors are never retried.
   */
  read<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], options?: ReadOptions): Promise<pg.QueryResult<R>>
  /** The pool read() would use, for several reads on one target; no retry is done for these. */
  readPool(options?: ReadOptions): Promise<ReadChoice>
  /** Call after committing a write for `userId`: their reads go to the primary for the window. */
  markWrite(userId: string): Promise<void>
  replicaStates(): ReplicaState[]
  close(): Promise<void>
}

/** The replica's own view: is it a standby, and how long ago was the last transaction it replayed (0 when caught up). */
const HEALTH_SQL = `SELECT pg_is_in_recovery() AS standby,
  CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000 END AS lag_ms`

interface Replica {
  readonly name: string
  readonly pool: pg.Pool
  /** A one-connection pool of its own, so a busy read pool cannot make a check time out. */
  readonly checkPool: pg.Pool
  state: ReplicaState
  /** When a read last found it unreachable (ms since epoch). */
  failedAt: number
}

export function createDatabase(options: DatabaseOptions): Database {
  const { primaryUrl, replicaUrls, maxReplicaLagMs = 1_000, healthCheckIntervalMs = 1_000, readRetryAfterMs = 300, recentWrites } = options
  const registry = options.registry ?? new Registry()
  const { name: base = 'db', ...poolOptions } = options.poolOptions ?? {}
  const metrics = routerMetrics(registry)
  // A check may take as long as the interval; a floor keeps a short interval from failing healthy replicas.
  const checkTimeoutMs = Math.max(healthCheckIntervalMs, 1_000)

  const primary = createPrimaryPool(primaryUrl, { ...poolOptions, role: 'primary', name: base, registry, checkIntervalMs: healthCheckIntervalMs })
  const replicas: Replica[] = replicaUrls.map((url) => {
    const name = new URL(url).host
    const replica: Replica = {
      name,
      pool: createPool(url, { ...poolOptions, role: 'replica', name: `${base}@${name}`, registry }),
      checkPool: createPool(url, { role: 'replica', name: `${base}-health@${name}`, max: 1, connectionTimeoutMillis: checkTimeoutMs }),
      // Trusted until the first check (started right away) or a failed read says otherwise.
      state: { replica: name, healthy: true, lagMs: null },
      failedAt: 0,
    }
    metrics.up.set({ replica: name }, 1)
    return replica
  })

  function setState(replica: Replica, state: Omit<ReplicaState, 'replica'>): void {
    replica.state = { replica: replica.name, ...state }
    if (state.down === 'not_standby') {
      // The primary now (a node list names every node, and any may be promoted): not a replica out of
      // rotation, so no series; ReplicaOutOfRotation fired for it on every idle native stack.
      metrics.up.remove({ replica: replica.name })
      metrics.lag.remove({ replica: replica.name })
      return
    }
    metrics.up.set({ replica: replica.name }, state.healthy ? 1 : 0)
    if (state.lagMs !== null) metrics.lag.set({ replica: replica.name }, state.lagMs / 1000)
  }

  async function check(replica: Replica): Promise<void> {
    const checkedAt = new Date()
    try {
      // query_timeout is pg's client-side bound: it also fires when the network, not the server, hangs.
      const query: pg.QueryConfig & { query_timeout: number } = { text: HEALTH_SQL, query_timeout: checkTimeoutMs }
      const { rows } = await replica.checkPool.query<{ standby: boolean; lag_ms: string | number | null }>(query)
      const row = rows[0]
      const lagMs = row?.lag_ms === null || row?.lag_ms === undefined ? null : Number(row.lag_ms)
      if (!row?.standby) {
        // Promoted (failover) or misconfigured: its data may diverge from the primary we write to.
        setState(replica, { healthy: false, down: 'not_standby', lagMs, checkedAt })
      } else if (lagMs === null || lagMs > maxReplicaLagMs) {
        // Unknown lag counts as too much: a stale read is the failure this check exists to prevent.
        setState(replica, { healthy: false, down: 'lagging', lagMs, checkedAt })
      } else if (checkedAt.getTime() >= replica.failedAt) {
        // (A check that began before a read saw the replica fail proves nothing about it now.)
        setState(replica, { healthy: true, lagMs, checkedAt })
      }
    } catch (err) {
      setState(replica, { healthy: false, down: 'unreachable', lagMs: null, lastError: describeError(err), checkedAt })
    }
  }

  let checking = false
  let closed = false
  async function checkAll(): Promise<void> {
    if (checking || closed) return // a slow round is not stacked on by the next tick
    checking = true
    try {
      await Promise.all(replicas.map(check))
    } finally {
      checking = false
    }
  }
  const timer = setInterval(() => void checkAll(), healthCheckIntervalMs)
  timer.unref() // the checks alone must not keep a process alive
  void checkAll()

  let cursor = 0
  function nextReplica(): Replica | undefined {
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[cursor]
      cursor = (cursor + 1) % replicas.length
      if (replica?.state.healthy) return replica
    }
    return undefined
  }

  /**
   * A reachable standby that is only behind its lag bound (or whose lag is unknown, as while its primary is
   * being failed over), for when the primary cannot answer either: a read a few seconds stale beats a 503.
   */
  function staleStandby(): Replica | undefined {
    return replicas.find((r) => r.state.down === 'lagging')
  }

  function choose(reason: ReadReason, replica?: Replica): ReadChoice & { replica?: Replica } {
    const choice = replica ? { pool: replica.pool, target: 'replica' as const, reason, replica } : { pool: primary, target: 'primary' as const, reason }
    metrics.reads.inc({ target: choice.target, reason: choice.reason })
    return choice
  }

  async function run<R extends pg.QueryResultRow>(choice: ReadChoice & { replica?: Replica }, sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await choice.pool.query<R>(sql, params)
    } catch (err) {
      // Our pool was full, not the node down: shed this read rather than mark a healthy node down.
      if (choice.replica) {
        const saturated = saturationOf(choice.pool, err, `the pool of ${choice.replica.state.replica}`)
        if (saturated) throw saturated
      }
      if (choice.replica && isConnectionError(err)) {
        // Mark it down now, not at the next health check: every read until then would fail the same way.
        choice.replica.failedAt = Date.now()
        setState(choice.replica, { ...choice.replica.state, healthy: false, down: 'unreachable', lastError: describeError(err) })
      }
      throw err
    }
  }

  async function readOnce<R extends pg.QueryResultRow>(sql: string, params?: unknown[], readOptions?: ReadOptions): Promise<pg.QueryResult<R>> {
    const first = await route(readOptions)
    try {
      return await run<R>(first, sql, params)
    } catch (err) {
      if (!isConnectionError(err)) throw err
      if (!first.replica) {
        // No replica was within bounds and the primary cannot answer (a failover in progress): a standby
        // that is merely behind answers, rather than nobody. Not for read-your-own-writes.
        const stale = first.reason === 'no_healthy_replica' ? staleStandby() : undefined
        if (!stale) throw err
        return run<R>(choose('primary_unavailable', stale), sql, params)
      }
      // Reads are safe to run twice; once is enough to ride over one dead replica.
      const next = nextReplica()
      return run<R>(next ? choose('replica_error', next) : choose('replica_error'), sql, params)
    }
  }

  /**
   * After the pause: the usual route, then, if that fails to connect too, any standby that answers now. The
   * health states are up to a check old and were just marked down by the failures, so they are not asked.
   */
  async function lastTry<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] | undefined,
    readOptions: ReadOptions | undefined,
  ): Promise<pg.QueryResult<R>> {
    const again = await route(readOptions)
    try {
      return await run<R>(again, sql, params)
    } catch (err) {
      if (!isConnectionError(err) || again.reason === 'read_your_writes') throw err
      for (const replica of replicas) {
        // Not a node that said it is no standby: that is the primary (the PrimaryPool's business) or a
        // promoted one whose data may have diverged.
        if (replica === again.replica || replica.state.down === 'not_standby') continue
        try {
          return await run<R>(choose('primary_unavailable', replica), sql, params)
        } catch (inner) {
          if (!isConnectionError(inner)) throw inner
        }
      }
      throw err
    }
  }

  async function route({ userId }: ReadOptions = {}): Promise<ReadChoice & { replica?: Replica }> {
    if (userId !== undefined && recentWrites && (await wroteRecently(recentWrites, userId))) return choose('read_your_writes')
    const replica = nextReplica()
    return replica ? choose('replica', replica) : choose('no_healthy_replica')
  }

  return {
    primary,
    query: (sql, params) => primary.query(sql, params),
    async read<R extends pg.QueryResultRow>(sql: string, params?: unknown[], readOptions?: ReadOptions) {
      try {
        return await readOnce<R>(sql, params, readOptions)
      } catch (err) {
        if (!isConnectionError(err) || readRetryAfterMs <= 0 || closed) throw err
        await sleep(readRetryAfterMs)
        return lastTry<R>(sql, params, readOptions)
      }
    },
    async readPool(readOptions) {
      const { pool, target, reason } = await route(readOptions)
      return { pool, target, reason }
    },
    async markWrite(userId) {
      if (!recentWrites) throw new Error('markWrite() needs createDatabase({ recentWrites }), e.g. createRedisRecentWrites(redis)')
      await recentWrites.mark(userId)
    },
    replicaStates: () => replicas.map((r) => r.state),
    async close() {
      closed = true
      clearInterval(timer)
      await Promise.all([primary.end(), ...replicas.flatMap((r) => [r.pool.end(), r.checkPool.end()])])
    },
  }
}

/** If the store cannot answer, assume the user did write: a slower read from the primary beats a stale one. */
async function wroteRecently(recentWrites: RecentWrites, userId: string): Promise<boolean> {
  try {
    return await recentWrites.has(userId)
  } catch {
    return true
  }
}

interface RouterMetrics {
  readonly up: Gauge<'replica'>
  readonly lag: Gauge<'replica'>
  readonly reads: Counter<'target' | 'reason'>
}

// Two routers (or a router re-created in a test) may share a registry.
const routerMetrics = perRegistry((registry): RouterMetrics => ({
  up: new Gauge({
    name: 'db_replica_up',
    help: '1 when reads are sent to the replica (reachable, a standby, lag within bounds), else 0; no series for a listed node that is the primary now',
    labelNames: ['replica'] as const,
    registers: [registry],
  }),
  lag: new Gauge({
    name: 'db_replica_lag_seconds',
    help: 'Replay lag of the replica at its last successful health check',
    labelNames: ['replica'] as const,
    registers: [registry],
  }),
  reads: new Counter({
    name: 'db_reads_total',
    help: 'Reads by where they were sent and why: replica, no_healthy_replica, read_your_writes, replica_error (retry after a replica failed), primary_unavailable (a lagging standby, the primary being down too)',
    labelNames: ['target', 'reason'] as const,
    registers: [registry],
  }),
}))
