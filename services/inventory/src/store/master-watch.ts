/**
 * Which Redis server holds the gate? Asked on every (re)connection. A different server than before (its
 * `run_id` changed: a Sentinel failover promoted the replica, or Redis restarted from its AOF) may lack the
 * last writes the old one took: replication is asynchronous, and `appendfsync everysec` can lose a second.
 * Stale counts could hand out units Postgres has already sold, so until the question is answered the gate
 * refuses to reserve (`suspect`: 503 rebuilding), and when the server changed every open sale's gate is
 * rebuilt from Postgres (ADR 0009) before it reserves again (ADR 0029).
 * The first connection only learns the server; a reconnection to the same server clears `suspect` at once.
 */
import type { Redis } from 'ioredis'
import type { Log } from '@flashsale/logging'

export interface MasterWatch {
  /** True from a (re)connection until the server is known, or, when it changed, until the gates are rebuilt. */
  readonly suspect: boolean
  /** The server's run_id, once known. */
  readonly runId: string | undefined
  stop(): void
}

export interface MasterWatchOptions {
  /** Rebuilds every open sale's gate; the watch stays suspect until it resolves (and retries when it throws). */
  readonly onServerChange: (previous: string, current: string) => Promise<void>
  readonly log: Pick<Log, 'warn' | 'error'>
  /** Wait between attempts when asking the server or rebuilding failed. Default 1 s. */
  readonly retryMs?: number
}

export function watchRedisMaster(redis: Redis, { onServerChange, log, retryMs = 1_000 }: MasterWatchOptions): MasterWatch {
  let runId: string | undefined
  // Suspect until the first answer: a gate must not reserve on a server nobody has looked at.
  let suspect = true
  let generation = 0
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  async function check(mine: number): Promise<void> {
    if (stopped || mine !== generation) return
    try {
      const info = await redis.info('server')
      const current = /run_id:([0-9a-f]+)/.exec(info)?.[1]
      if (!current) throw new Error('INFO server has no run_id')
      if (runId !== undefined && current !== runId) {
        log.warn({ previous: runId, current }, 'the Redis server changed (failover or restart): rebuilding every open gate from Postgres before reserving')
        await onServerChange(runId, current)
      }
      if (mine !== generation) return // reconnected meanwhile: that connection's check decides
      runId = current
      suspect = false
    } catch (err) {
      log.error({ err }, 'could not tell which Redis server holds the gate; it refuses to reserve until it can')
      if (!stopped && mine === generation) {
        timer = setTimeout(() => void check(mine), retryMs)
        timer.unref()
      }
    }
  }

  const onReady = () => {
    suspect = true
    generation++
    if (timer) clearTimeout(timer)
    void check(generation)
  }
  redis.on('ready', onReady)
  if (redis.status === 'ready') onReady()

  return {
    get suspect() {
      return suspect
    },
    get runId() {
      return runId
    },
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      redis.off('ready', onReady)
    },
  }
}
