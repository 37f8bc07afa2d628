/**
 * The Redis side of the stock gate: the Lua scripts of ./lua (each prefixed with common.lua), loaded with
 * ioredis defineCommand (EVALSHA, falling back to EVAL after a SCRIPT FLUSH or a Redis restart).
 *
 * Keys: every key of a sale carries the hash tag {sale:<id>}, so they share one Redis Cluster slot and one
 * script can touch them all atomically. The order id → sale lookup lives under {order:<id>} (another slot),
 * written right after a successful reserve; it is only a lookup, never a source of stock truth. If the
 * process dies between the two, the reservation cannot be found by order id: the worker's claim answers
 * not_found (Postgres decides), and the reservation expires after its TTL.
 *
 * Why one file: every gate command and the keys its Lua script touches are declared here together, so the
 *   key layout (hash tags, prefixes) has one place to read.
 */
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { readLua, scriptCommand } from '@flashsale/redis'
import type { GateReserveReply, GateState, GateView, LoadInput, LoadResult, ReconcileInput, ReconcileReply, StockGate } from '../domain/ports.ts'
import type { AdvanceOutcome, AdvanceResult, AdvanceTarget, ReleaseOutcome, ReleaseResult, Reservation, ReservationState } from '../domain/reservation.ts'
import type { Sale, SaleState } from '../domain/sale.ts'

const LUA_DIR = join(import.meta.dirname, 'lua')
const PRELUDE = readLua(LUA_DIR, 'common.lua')

const SCRIPTS = {
  invReserve: 'reserve',
  invRelease: 'release',
  invAdvance: 'advance',
  invExpire: 'expire',
  invRefresh: 'refresh',
  invAdjust: 'adjust',
  invBeginRebuild: 'begin-rebuild',
  invAbortRebuild: 'abort-rebuild',
  invLoad: 'load',
  invReconcile: 'reconcile',
} as const

type ScriptName = keyof typeof SCRIPTS
type Arg = string | number
type Reply = (string | null)[]
type GateRedis = Redis & Record<ScriptName, (...args: Arg[]) => Promise<Reply>>

/** The keys of one sale, in the order every script expects them (see common.lua). */
export function saleKeys(saleId: string): string[] {
  const tag = `inv:{sale:${saleId}}`
  return [`${tag}:meta`, `${tag}:avail`, `${tag}:users`, `${tag}:res`, `${tag}:exp`, `${tag}:commits`]
}

export function orderIndexKey(orderId: string): string {
  return `inv:{order:${orderId}}:sale`
}

/** Registers the scripts on the client (once per client; @flashsale/redis scriptCommand). */
export function defineGateScripts(redis: Redis): GateRedis {
  for (const [name, file] of Object.entries(SCRIPTS)) scriptCommand(redis, { name, keys: 6, lua: readLua(LUA_DIR, `${file}.lua`, PRELUDE) })
  return redis as GateRedis
}

export interface GateStoreOptions {
  /** How long the order id → sale lookup is kept. */
  readonly indexTtlMs: number
  /** While true, reserve answers `rebuilding` without asking Redis (store/master-watch.ts). */
  readonly suspect?: () => boolean
  /**
   * A reservation is confirmed only once a replica has it (Redis WAIT 1), waiting this long at most; 0 turns
   * it off. Replication is asynchronous: without the wait, a failover may promote a replica that never saw
   * a reservation the buyer was told of, and the rebuilt gate would hand its unit out again (over-admission,
   * caught by Postgres but not by the buyer). With no replica connected at all there is nothing to fail over
   * to and nothing to wait for.
   */
  readonly replicaAckTimeoutMs?: number
}

const num = (v: string | null | undefined): number => (v === null || v === undefined || v === '' ? 0 : Number(v))

function toReservation(orderId: string, saleId: string, fields: Reply, from: number): Reservation {
  return {
    orderId,
    saleId,
    userId: String(fields[from]),
    qty: num(fields[from + 1]),
    expiresAt: new Date(num(fields[from + 2])),
    state: fields[from + 3] as ReservationState,
  }
}

function decodeRecord(orderId: string, saleId: string, value: string): Reservation {
  const [userId = '', qty = '0', expires = '0', state = 'released'] = value.split('|')
  return { orderId, saleId, userId, qty: Number(qty), expiresAt: new Date(Number(expires)), state: state as ReservationState }
}

export function createGateStore(client: Redis, { indexTtlMs, suspect, replicaAckTimeoutMs = 0 }: GateStoreOptions): StockGate {
  const redis = defineGateScripts(client)

  // WAIT blocks this connection, which every gate command shares, until the replica answers. So one WAIT is
  // shared by every reservation that completed before it is sent (a group commit: it covers every write sent
  // earlier on the connection), and it is paid at most once a second when it cannot succeed. Until
  // noReplicaUntil the master is known to have no replica in sync (WAIT would only sit out its timeout); until
  // refuseUntil a replica in sync did not acknowledge (reservations are refused).
  let noReplicaUntil = 0
  let refuseUntil = 0
  let nextWait: Promise<boolean> | undefined
  /** Did a replica take every write of this connection so far? https://redis.io/docs/latest/commands/wait/ */
  function replicated(): Promise<boolean> {
    if (replicaAckTimeoutMs <= 0 || Date.now() < noReplicaUntil) return Promise.resolve(true)
    nextWait ??= new Promise<boolean>((resolve, reject) =>
      setImmediate(() => {
        nextWait = undefined // reservations completing from now on need a WAIT sent after them
        waitForReplica().then(resolve, reject)
      }),
    )
    return nextWait
  }
  async function waitForReplica(): Promise<boolean> {
    if ((await client.wait(1, replicaAckTimeoutMs)) >= 1) return true
    // Only a replica in sync counts: one still loading its first copy (a restarted old master rejoining, say)
    // acknowledges nothing until it is done, and refusing every order meanwhile would turn a failback into an
    // outage (make chaos-redis did, for ~4 s).
    const online = (await client.info('replication')).split('\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length
    if (online > 0) {
      refuseUntil = Date.now() + 1_000
      return false
    }
    noReplicaUntil = Date.now() + 1_000
    return true
  }

  const saleOf = (orderId: string): Promise<string | null> => redis.get(orderIndexKey(orderId))

  async function releaseIn(saleId: string, orderId: string, owner: string, now: number, tombstone: string, onlyIn: string): Promise<ReleaseResult> {
    const [outcome, units, before] = await redis.invRelease(...saleKeys(saleId), orderId, owner, now, tombstone, onlyIn)
    return { outcome: outcome as ReleaseOutcome, units: num(units), saleId, ...(before ? { stateBefore: before as ReservationState } : {}) }
  }

  return {
    async reserve({ saleId, orderId, userId, qty, now }) {
      if (suspect?.()) return { outcome: 'rebuilding' }
      if (Date.now() < refuseUntil) return { outcome: 'unreplicated' }
      const reply = await redis.invReserve(...saleKeys(saleId), orderId, userId, qty, now)
      const outcome = reply[0] as string
      // Only a successful reserve records order id → sale (the lookup release/claim/confirm use), so the
      // flood of refused attempts writes nothing. NX: an order id already known for another sale is a
      // conflict; give this sale's units straight back.
      if (outcome === 'reserved') {
        const set = await redis.set(orderIndexKey(orderId), saleId, 'PX', indexTtlMs, 'NX')
        if (set === null) {
          const owner = await saleOf(orderId)
          if (owner !== null && owner !== saleId) {
            await releaseIn(saleId, orderId, '', now, 'released', '')
            return { outcome: 'conflict' }
          }
        }
      }
      // WAIT or INFO failing (the connection dropped) is as unconfirmed as no acknowledgement.
      if (outcome === 'reserved' && !(await replicated().catch(() => false))) {
        // A unit the buyer is not told of: given back now, on the master that has it (if it can still be
        // reached; else the reservation expires unclaimed and the rebuild after a new master counts it out).
        await releaseIn(saleId, orderId, '', now, 'released', '').catch(() => undefined)
        return { outcome: 'unreplicated' }
      }
      switch (outcome) {
        case 'reserved':
          return { outcome, reservation: toReservation(orderId, saleId, reply, 1), available: num(reply[5]) }
        case 'duplicate':
          return { outcome, reservation: toReservation(orderId, saleId, reply, 1) }
        case 'limit_reached':
          return { outcome, held: num(reply[1]), limit: num(reply[2]) }
        case 'sold_out':
          return { outcome, available: num(reply[1]) }
        case 'not_open':
        case 'closed':
        case 'paused':
        case 'conflict':
        case 'missing':
        case 'rebuilding':
          return { outcome } as GateReserveReply
        default:
          throw new Error(`reserve.lua answered an unknown outcome ${JSON.stringify(outcome)}`)
      }
    },

    async release({ orderId, ownerUserId, now, onlyIn = '' }) {
      const saleId = await saleOf(orderId)
      if (saleId === null) return { outcome: 'not_found', units: 0 }
      return releaseIn(saleId, orderId, ownerUserId ?? '', now, 'released', onlyIn)
    },

    async advance(orderIds, target: AdvanceTarget, now) {
      return Promise.all(
        orderIds.map(async (orderId): Promise<AdvanceResult> => {
          const saleId = await saleOf(orderId)
          if (saleId === null) return { orderId, outcome: 'not_found' }
          const reply = await redis.invAdvance(...saleKeys(saleId), orderId, target, now)
          const outcome = reply[0] as AdvanceOutcome
          if (outcome === 'not_found') return { orderId, outcome }
          return { orderId, outcome, reservation: toReservation(orderId, saleId, reply, 1) }
        }),
      )
    },

    async getReservation(orderId) {
      const saleId = await saleOf(orderId)
      if (saleId === null) return null
      const value = await redis.hget(saleKeys(saleId)[3] as string, orderId)
      return value === null ? null : decodeRecord(orderId, saleId, value)
    },

    async view(saleId): Promise<GateView> {
      const [meta, avail] = saleKeys(saleId)
      const results =
        (await redis
          .pipeline()
          .hgetall(meta as string)
          .get(avail as string)
          .exec()) ?? []
      const [metaErr, m] = results[0] ?? [new Error('pipeline returned nothing')]
      const [availErr, a] = results[1] ?? [new Error('pipeline returned nothing')]
      if (metaErr) throw metaErr
      if (availErr) throw availErr
      const fields = (m ?? {}) as Record<string, string>
      if (!fields['state'] || a === null) return { state: 'missing' }
      return {
        state: fields['gate'] === 'rebuilding' ? 'rebuilding' : 'ready',
        sale: {
          id: saleId,
          sku: fields['sku'] ?? '',
          title: fields['title'] ?? '',
          totalUnits: num(fields['total']),
          perUserLimit: num(fields['limit']),
          startsAt: new Date(num(fields['starts_at'])),
          endsAt: new Date(num(fields['ends_at'])),
          reservationTtlSeconds: num(fields['ttl_ms']) / 1000,
          state: fields['state'] as SaleState,
        },
        available: num(a as string),
        uncommitted: num(fields['uncommitted']),
        committed: num(fields['committed']),
      }
    },

    async refresh(sale: Sale, now) {
      const [state] = await redis.invRefresh(...saleKeys(sale.id), now, ...definition(sale))
      return state as GateState
    },

    async adjust(saleId, delta, total, now) {
      const [status, available] = await redis.invAdjust(...saleKeys(saleId), delta, total, now)
      return { status: status as 'ok' | 'below_taken' | 'missing', ...(available ? { available: num(available) } : {}) }
    },

    async seq(saleId) {
      return num(await redis.hget(saleKeys(saleId)[0] as string, 'seq'))
    },

    async beginRebuild(saleId, token, now, staleMs, force) {
      const [status, seq] = await redis.invBeginRebuild(...saleKeys(saleId), token, now, staleMs, force ? '1' : '0')
      return status === 'begun' ? { status: 'begun', seq: num(seq) } : { status: 'in_progress' }
    },

    async abortRebuild(saleId, token) {
      await redis.invAbortRebuild(...saleKeys(saleId), token)
    },

    async load({ sale, ledger, userUnits, token, seqA, now }: LoadInput): Promise<LoadResult> {
      const users = [...userUnits].flatMap(([userId, units]) => [userId, units])
      const [status, available, uncommitted, committed, late] = await redis.invLoad(
        ...saleKeys(sale.id),
        token,
        seqA,
        now,
        ...definition({ ...sale, totalUnits: ledger.total }),
        ledger.sold,
        ...users,
      )
      if (status !== 'loaded') return { status: status as 'superseded' | 'rebuilding' }
      return { status: 'loaded', available: num(available), uncommitted: num(uncommitted), committed: num(committed), late: num(late) }
    },

    async reconcile({ saleId, seqA, now, ledger, quietMs, repair }: ReconcileInput): Promise<ReconcileReply> {
      const r = await redis.invReconcile(...saleKeys(saleId), seqA, now, ledger.total, ledger.sold, quietMs, repair ? '1' : '0')
      if (r[0] !== 'ok') return { status: r[0] as 'missing' | 'rebuilding' }
      return {
        status: 'ok',
        available: num(r[1]),
        expected: num(r[2]),
        drift: num(r[3]),
        uncommitted: num(r[4]),
        committed: num(r[5]),
        late: num(r[6]),
        repaired: r[7] === '1',
      }
    },

    async expire(saleId, now, max) {
      const flat = await redis.invExpire(...saleKeys(saleId), now, max)
      const out: { orderId: string; qty: number }[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ orderId: String(flat[i]), qty: num(flat[i + 1]) })
      return out
    },
  }
}

/** The order of fields refresh.lua and load.lua take after their own arguments: state … title. */
function definition(sale: Pick<Sale, 'state' | 'startsAt' | 'endsAt' | 'perUserLimit' | 'reservationTtlSeconds' | 'totalUnits' | 'sku' | 'title'>): Arg[] {
  return [
    sale.state,
    sale.startsAt.getTime(),
    sale.endsAt.getTime(),
    sale.perUserLimit,
    sale.reservationTtlSeconds * 1000,
    sale.totalUnits,
    sale.sku,
    sale.title,
  ]
}
