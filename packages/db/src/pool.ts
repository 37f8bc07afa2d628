/**
 * PostgreSQL pools sized by formula, named in pg_stat_activity, and measured: connection counts on
 * every scrape, the wait for a connection, and errors of idle connections.
 */
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { perRegistry } from './per-registry.ts'

export type PoolRole = 'primary' | 'replica'

/**
 * connections = (core_count * 2) + effective_spindle_count — the formula of the PostgreSQL wiki
 * ("Number Of Database Connections") that HikariCP's "About Pool Sizing" builds on. A small pool keeps
 * the server's cores busy without making queries queue on its locks and disks; SSDs count as 1 spindle.
 */
export function poolSize({ cores, spindles = 1 }: { cores: number; spindles?: number }): number {
  if (!Number.isInteger(cores) || cores < 1) throw new RangeError(`cores must be a positive integer, got ${cores}`)
  if (!Number.isInteger(spindles) || spindles < 0) throw new RangeError(`spindles must be a non-negative integer, got ${spindles}`)
  return cores * 2 + spindles
}

export interface PoolOptions {
  readonly role: PoolRole
  /** The `pool` label of the metrics and the connection's application_name in pg_stat_activity. */
  readonly name: string
  /** Default: poolSize({ cores: os.availableParallelism() }). */
  readonly max?: number
  /**
   * Connections kept open when idle. Default: max — a fixed-size pool, as HikariCP recommends "for
   * maximum performance and responsiveness to spike demands": a flash sale is one spike, and opening
   * connections in the middle of it costs the primary most when it has least to spare.
   */
  readonly min?: number
  /** Idle time after which a connection above `min` is closed. Default 10 s. */
  readonly idleTimeoutMillis?: number
  /** Bound on waiting for a connection (a free slot or a new socket). Default 5 s; pg's own default waits forever. */
  readonly connectionTimeoutMillis?: number
  /** Server-side statement_timeout for every statement on these connections. Default: the server's. */
  readonly statementTimeoutMs?: number
  /**
   * Client-side bound on each query (pg's query_timeout): also ends a wait the server does not see, a slow or
   * hung network. The connection is discarded. A query may set its own (`{ text, query_timeout }`). Default none.
   */
  readonly queryTimeoutMs?: number
  /** Where the pool's metrics go. No registry, no metrics: never prom-client's global one implicitly. */
  readonly registry?: Registry
}

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void

/** pg.Pool that times every connect(); pool.query() acquires through connect() too, so both are measured. */
class MeteredPool extends pg.Pool {
  onAcquire: ((seconds: number) => void) | undefined

  override connect(): Promise<pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    const started = performance.now()
    const observe = () => this.onAcquire?.((performance.now() - started) / 1000)
    if (callback) {
      return super.connect((err, client, done) => {
        observe()
        callback(err, client, done)
      })
    }
    return super.connect().finally(observe)
  }
}

/**
 * The pool options of a process that answers requests: a connection waited for at most PG_ACQUIRE_TIMEOUT_MS,
 * a statement run for at most PG_QUERY_TIMEOUT_MS (on the server and in the client), so that past them the
 * request is answered 503 + Retry-After inside the caller's budget instead of queueing past it (ADR 0034).
 * Not for workers and projectors: their batches wait out an outage instead.
 */
export function requestBudget(config: { readonly PG_ACQUIRE_TIMEOUT_MS: number; readonly PG_QUERY_TIMEOUT_MS: number }) {
  return {
    connectionTimeoutMillis: config.PG_ACQUIRE_TIMEOUT_MS,
    statementTimeoutMs: config.PG_QUERY_TIMEOUT_MS,
    queryTimeoutMs: config.PG_QUERY_TIMEOUT_MS,
  } satisfies Partial<PoolOptions>
}

export function createPool(url: string, options: PoolOptions): pg.Pool {
  const max = options.max ?? poolSize({ cores: availableParallelism() })
  const pool = new MeteredPool({
    connectionString: url,
    application_name: options.name,
    max,
    min: Math.min(options.min ?? max, max),
    idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }),
  })
  const labels = { pool: options.name, role: options.role }
  const metrics = options.registry ? poolMetrics(options.registry) : undefined
  // An idle connection that the server or network drops is reported here; without a listener the
  // 'error' event would crash the process. pg-pool has already removed the client from the pool.
  pool.on('error', () => metrics?.errors.inc(labels))
  if (metrics) {
    metrics.pools.add({ pool, labels })
    pool.onAcquire = (seconds) => metrics.acquire.observe(labels, seconds)
  }
  return pool
}

interface PoolMetrics {
  readonly pools: Set<{ pool: pg.Pool; labels: { pool: string; role: PoolRole } }>
  readonly acquire: Histogram<'pool' | 'role'>
  readonly errors: Counter<'pool' | 'role'>
}

// One set of metric objects per registry, shared by every pool registered in it.
const poolMetrics = perRegistry((registry): PoolMetrics => {
  const pools: PoolMetrics['pools'] = new Set()
  new Gauge({
    name: 'pg_pool_connections',
    help: 'Connections of a pg pool by state: total (open), idle (open, unused), waiting (callers queued for one)',
    labelNames: ['pool', 'role', 'state'] as const,
    registers: [registry],
    // Read on scrape rather than tracked on every event: the pool already keeps these counts.
    collect() {
      this.reset()
      for (const entry of pools) {
        if (entry.pool.ended) {
          pools.delete(entry)
          continue
        }
        this.set({ ...entry.labels, state: 'total' }, entry.pool.totalCount)
        this.set({ ...entry.labels, state: 'idle' }, entry.pool.idleCount)
        this.set({ ...entry.labels, state: 'waiting' }, entry.pool.waitingCount)
      }
    },
  })
  const metrics: PoolMetrics = {
    pools,
    acquire: new Histogram({
      name: 'pg_pool_acquire_seconds',
      help: 'Time to get a connection from a pg pool (waiting for a free one or opening a new one)',
      labelNames: ['pool', 'role'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'pg_pool_errors_total',
      help: 'Errors of idle pooled connections (server restart, terminated backend, network loss)',
      labelNames: ['pool', 'role'] as const,
      registers: [registry],
    }),
  }
  return metrics
})
