/**
 * The waiting rooms, made from the gateway's config and wired to its signals: the order upstream (whose
 * measured capacity sets the admission rate, and whose refusals pause it) and degradation.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Log } from '@flashsale/logging'
import type { Config } from '../config.ts'
import type { Degradation } from '../domain/degradation.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { createPassSigner } from './pass.ts'
import { createWaitingRooms, type LoadSignals, type WaitingRooms } from './rooms.ts'
import { createRoomStore } from './store.ts'

/**
 * What the order upstream and degradation say now (ADR 0039). Capacity: completions per second measured while requests
 * queued, when known, else the concurrency limit over the upstream's own service time (Little's law).
 */
export function orderLoadSignals(order: Upstream | undefined, degradation: Pick<Degradation, 'state'>): LoadSignals {
  const snap = order?.snapshot()
  const limit = snap?.limit
  // The queue "refuses" when it stands (CoDel), or holds a full limit's worth of waiters: one more admission
  // would wait longer than a service time, and deadline admission starts refusing orders that wait too long.
  const queueFull = limit !== undefined && (limit.standingQueue || (limit.limit > 0 && limit.queuedCore >= limit.limit))
  // Degraded by the order path's own signals (its p99, its errors) or by hand, not by this gateway's busy event
  // loop: the crowd in the room makes the loop busy, and pausing for it stalled a 10,000-buyer sale for a minute.
  const degraded = degradation.state()
  const pausedBy = degraded.degraded && degraded.reason !== 'elu' ? 'degraded' : snap && snap.breaker !== 'closed' ? 'breaker' : queueFull ? 'queue' : undefined
  const capacityPerSecond = !limit
    ? undefined
    : limit.servedPerSecond > 0
      ? limit.servedPerSecond
      : limit.serviceMs > 0
        ? limit.limit / (limit.serviceMs / 1000)
        : undefined
  return { pausedBy, capacityPerSecond }
}

export interface WaitingRoomDeps {
  readonly redis: Redis
  /** The upstream of order placement (the route table's sold-out-edge route). */
  readonly order: Upstream | undefined
  readonly degradation: Pick<Degradation, 'state'>
  readonly metrics: GatewayMetrics
  readonly log: Pick<Log, 'warn' | 'info'>
}

export function createGatewayRooms(config: Config, deps: WaitingRoomDeps): WaitingRooms {
  let secret = config.WAITING_ROOM_PASS_SECRET
  if (secret === undefined) {
    secret = randomBytes(32).toString('base64url')
    deps.log.warn({}, 'WAITING_ROOM_PASS_SECRET is not set: passes are signed with a key of this process, so only this instance accepts them')
  }
  return createWaitingRooms({
    store: createRoomStore(deps.redis),
    passes: createPassSigner(secret),
    load: () => orderLoadSignals(deps.order, deps.degradation),
    rate: { share: config.WAITING_ROOM_CAPACITY_SHARE, startRate: config.WAITING_ROOM_START_RATE, maxRate: config.WAITING_ROOM_MAX_RATE },
    burstSeconds: config.WAITING_ROOM_BURST_SECONDS,
    tickMs: config.WAITING_ROOM_TICK_MS,
    refreshMs: config.WAITING_ROOM_REFRESH_MS,
    metrics: deps.metrics,
    log: deps.log,
  })
}
