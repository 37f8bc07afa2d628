/**
 * The data tier's roles as metrics, so the ops page can show failovers as they happen: each PostgreSQL node
 * as the pg_auto_failover monitor has it, and each Redis node as the Sentinels have it. Read at scrape time
 * (Prometheus scrapes the ops tool every second), from the authorities themselves rather than from what a
 * service's client believes. The services' own view is already exported (db_primary_known, db_replica_up).
 *
 *   datatier_pg_node_state{node}    2 primary, 1 standby in sync, 0 anything else (down, catching up, demoted)
 *   datatier_redis_node_state{node} 2 master, 1 replica, 0 down (Sentinel's s_down/o_down/disconnected flags)
 *   datatier_source_up{source}      1 when the monitor / a Sentinel answered this scrape, else 0
 *
 * pg_auto_failover's node table and its states: https://pg-auto-failover.readthedocs.io/en/main/failover-state-machine.html
 * Sentinel's commands (SENTINEL MASTER, SENTINEL REPLICAS): https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/
 */
import { Redis } from 'ioredis'
import pg from 'pg'
import { parseRedisUrl } from '@flashsale/redis'
import { Gauge, type Registry } from '@flashsale/metrics'

export interface PgNodeRow {
  readonly host: string
  readonly port: number
  readonly reportedState: string
  readonly goalState: string
  /** pg_auto_failover's health check: 1 good, 0 bad, -1 unknown. */
  readonly health: number
}

const PRIMARY_STATES = ['single', 'primary', 'wait_primary']

/** 2 primary, 1 standby in sync, 0 anything else: the monitor's reported state must match its goal. */
export function pgNodeState(n: PgNodeRow): 0 | 1 | 2 {
  if (n.health === 0 || n.reportedState !== n.goalState) return 0
  if (PRIMARY_STATES.includes(n.reportedState)) return 2
  return n.reportedState === 'secondary' ? 1 : 0
}

/** A Sentinel's answer for one node (SENTINEL MASTER / REPLICAS return flat field-value lists). */
export function sentinelFields(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply)) throw new Error(`Sentinel answered ${typeof reply}, expected a field-value list`)
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
  return out
}

const DOWN_FLAGS = ['s_down', 'o_down', 'disconnected']

/** 2 master, 1 replica, 0 down, from a node's Sentinel flags (e.g. "master", "slave,s_down"). */
export function redisNodeState(flags: string): 0 | 1 | 2 {
  const set = flags.split(',')
  if (set.some((f) => DOWN_FLAGS.includes(f))) return 0
  if (set.includes('master')) return 2
  return set.includes('slave') ? 1 : 0
}

export interface DataTierOptions {
  readonly registry: Registry
  /** The pg_auto_failover monitor's database; undefined = PostgreSQL roles are not exported. */
  readonly monitorUrl?: string | undefined
  /** redis+sentinel://h1:p1,.../master; a plain redis:// URL = Redis roles are not exported. */
  readonly redisUrl?: string | undefined
  /** Per source and scrape: below Prometheus's scrape timeout (900 ms natively), both sources being asked at once. */
  readonly timeoutMs?: number
}

export interface DataTier {
  close(): Promise<void>
}

export function exportDataTier({ registry, monitorUrl, redisUrl, timeoutMs = 600 }: DataTierOptions): DataTier {
  const monitor = monitorUrl
    ? new pg.Pool({
        connectionString: monitorUrl,
        max: 1,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        application_name: 'flashsale-ops',
      })
    : undefined
  monitor?.on('error', () => {}) // an idle connection dropped by a monitor restart; the next scrape reconnects
  const target = redisUrl ? parseRedisUrl(redisUrl) : undefined
  const masterName = target?.kind === 'sentinel' ? target.masterName : undefined
  const sentinels =
    target?.kind === 'sentinel'
      ? target.sentinels.map(
          (s) =>
            new Redis({
              host: s.host,
              port: s.port,
              lazyConnect: true,
              connectTimeout: timeoutMs,
              commandTimeout: timeoutMs,
              maxRetriesPerRequest: 0,
              enableOfflineQueue: false,
              retryStrategy: () => 1_000,
            }),
        )
      : []
  for (const s of sentinels) s.on('error', () => {}) // a Sentinel killed in a drill; the next one is asked

  async function pgRoles(): Promise<Map<string, number> | undefined> {
    if (!monitor) return undefined
    const { rows } = await monitor.query<{ host: string; port: number; reported: string; goal: string; health: number }>(
      'SELECT nodehost AS host, nodeport AS port, reportedstate::text AS reported, goalstate::text AS goal, health FROM pgautofailover.node ORDER BY nodeport',
    )
    return new Map(
      rows.map((r) => [`${r.host}:${r.port}`, pgNodeState({ host: r.host, port: r.port, reportedState: r.reported, goalState: r.goal, health: r.health })]),
    )
  }

  async function askSentinel(s: Redis, name: string): Promise<Map<string, number>> {
    if (s.status === 'wait') await s.connect()
    const master = sentinelFields(await s.call('SENTINEL', 'MASTER', name))
    const replicas = (await s.call('SENTINEL', 'REPLICAS', name)) as unknown[]
    return new Map([master, ...replicas.map(sentinelFields)].map((n) => [`${n.ip}:${n.port}`, redisNodeState(n.flags ?? '')]))
  }

  /** Every Sentinel at once, the first answer wins: one that hangs (stopped, not killed) never stalls the scrape. */
  async function redisRoles(): Promise<Map<string, number> | undefined> {
    if (masterName === undefined) return undefined
    return Promise.any(sentinels.map((s) => askSentinel(s, masterName)))
  }

  const registers = [registry]
  const sourceUp = new Gauge({
    name: 'datatier_source_up',
    help: 'Whether the data tier authority answered the last scrape: pg_monitor (pg_auto_failover), sentinel (Redis Sentinel)',
    labelNames: ['source'] as const,
    registers,
    collect: () => refresh(),
  })
  const pgState = new Gauge({
    name: 'datatier_pg_node_state',
    help: 'Each PostgreSQL node as the pg_auto_failover monitor has it: 2 primary, 1 standby in sync, 0 anything else',
    labelNames: ['node'] as const,
    registers: monitor ? registers : [],
    collect: () => refresh(),
  })
  const redisState = new Gauge({
    name: 'datatier_redis_node_state',
    help: 'Each Redis node as the Sentinels have it: 2 master, 1 replica, 0 down or unknown',
    labelNames: ['node'] as const,
    registers: masterName !== undefined ? registers : [],
    collect: () => refresh(),
  })

  // One read of both authorities per scrape: each gauge's collect asks, the first starts the read, the others
  // (in the same scrape) share it; the next scrape starts a new one.
  let inFlight: Promise<void> | undefined
  function refresh(): Promise<void> {
    inFlight ??= read().finally(() => setImmediate(() => (inFlight = undefined)))
    return inFlight
  }
  function read(): Promise<void> {
    return Promise.allSettled([pgRoles(), redisRoles()]).then(([pgResult, redisResult]) => {
      for (const [gauge, source, result] of [
        [pgState, 'pg_monitor', pgResult],
        [redisState, 'sentinel', redisResult],
      ] as const) {
        gauge.reset()
        if (result.status === 'fulfilled' && result.value === undefined) continue // not configured
        sourceUp.set({ source }, result.status === 'fulfilled' ? 1 : 0)
        if (result.status === 'fulfilled') for (const [node, state] of result.value!) gauge.set({ node }, state)
      }
    })
  }

  return {
    async close() {
      await Promise.allSettled([monitor?.end(), ...sentinels.map((s) => s.quit().catch(() => s.disconnect()))])
    },
  }
}
