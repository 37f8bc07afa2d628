/**
 * The waiting rooms' state, all of it in Redis (so a gateway instance that restarts loses nobody's place and
 * every instance sees one line): per room a config-and-counters hash, the holders' places, a lottery's
 * entrants and the places given up. Each change is one Lua script (lua/), atomic: a ticket is numbered and
 * claimed for its user in the same step, and the watermark moves in one. The layout is in lua/common.lua.
 *
 * Keys: `wr:rooms` (the sale ids that have a room) and `wr:{<saleId>}:cfg|users|draw|gone`, one hash tag per
 * room (one Redis Cluster slot per room; `wr:rooms` is read and written apart from them).
 */
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { readLua, scriptCommand, type ScriptCall } from '@flashsale/redis'

export type RoomMode = 'fifo' | 'lottery'

/** What an admin sets. */
export interface RoomSettings {
  readonly saleId: string
  readonly sku: string
  readonly mode: RoomMode
  /** Wall-clock ms: nobody is admitted before it; a lottery draws at it. */
  readonly opensAt: number
  /** How long a pass is good for after its holder is admitted. */
  readonly passTtlMs: number
  /** A fixed admission rate for the whole fleet, per second; 0 = what each gateway measures. */
  readonly ratePerSecond: number
  /** Wall-clock ms at which the room's keys expire (the sale's end, plus a margin). */
  readonly expiresAt: number
}

/** A room as stored: its settings and counters. */
export interface RoomState extends Omit<RoomSettings, 'expiresAt'> {
  readonly tickets: number
  readonly served: number
  readonly ranked: number
  readonly admitted: number
  readonly left: number
  readonly drawn: boolean
}

export type TicketResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'no_ticket' }
  | {
      readonly kind: 'new' | 'existing'
      /** Place in the admission order; 0 while a lottery has not drawn. */
      readonly place: number
      /** Arrival number: the n-th ticket of this room. */
      readonly ticket: number
      readonly served: number
      readonly joinedAt: number
      /** When the buyer was first told they were admitted (wall-clock ms), 0 = not admitted. */
      readonly admittedAt: number
      /** Holders still waiting in front. */
      readonly ahead: number
      /** This call told the buyer for the first time. */
      readonly newlyAdmitted: boolean
    }

export type LeaveResult = 'none' | 'no_ticket' | 'admitted' | 'expired' | 'left'

export interface AdvanceResult {
  readonly served: number
  readonly ranked: number
  readonly admittedNow: number
  readonly waiting: number
  /** Places per second the fleet admits now (the sum over the instances seen in the last 3 s). */
  readonly fleetRate: number
  readonly drew: number
  readonly tickets: number
}

export interface AdvanceArgs {
  readonly instanceId: string
  readonly now: number
  readonly ratePerSecond: number
  /** Most credit kept, in seconds of the rate: how many a burst into an empty room is admitted at once. */
  readonly burstSeconds: number
  readonly paused: boolean
}

export interface RoomStore {
  /** Creates or changes a room; 'conflict' when the mode would change after tickets were handed out. */
  enable(settings: RoomSettings): Promise<'created' | 'updated' | 'conflict'>
  /** Removes a room and everyone's place in it; false when there was none. */
  disable(saleId: string): Promise<boolean>
  get(saleId: string): Promise<RoomState | undefined>
  /** Every room (ids whose room expired are forgotten on the way). */
  list(): Promise<RoomState[]>
  ticket(saleId: string, userId: string, op: 'join' | 'poll', now: number, drawScore?: number): Promise<TicketResult>
  leave(saleId: string, userId: string, now: number): Promise<LeaveResult>
  advance(saleId: string, args: AdvanceArgs): Promise<AdvanceResult | undefined>
}

const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url))
const PRELUDE = readLua(LUA_DIR, 'common.lua')
const ROOMS = 'wr:rooms'

export const roomKeys = (saleId: string) => [`wr:{${saleId}}:cfg`, `wr:{${saleId}}:users`, `wr:{${saleId}}:draw`, `wr:{${saleId}}:gone`] as const

const int = (v: string | undefined) => (v === undefined ? 0 : Number.parseInt(v, 10) || 0)

function roomState(saleId: string, h: Record<string, string>): RoomState | undefined {
  if (h.sku === undefined) return undefined
  return {
    saleId,
    sku: h.sku,
    mode: h.mode === 'lottery' ? 'lottery' : 'fifo',
    opensAt: int(h.opens_at),
    passTtlMs: int(h.pass_ttl_ms),
    ratePerSecond: Number(h.rate ?? 0) || 0,
    tickets: int(h.tickets),
    served: int(h.served),
    ranked: int(h.ranked),
    admitted: int(h.admitted),
    left: int(h.left),
    drawn: h.drawn === '1',
  }
}

export function createRoomStore(redis: Redis): RoomStore {
  const script = <R>(name: string, file: string): ScriptCall<R> => scriptCommand<R>(redis, { name, keys: 4, lua: readLua(LUA_DIR, file, PRELUDE) })
  const ticketScript = script<(string | number)[]>('gatewayRoomTicket', 'ticket.lua')
  const leaveScript = script<string>('gatewayRoomLeave', 'leave.lua')
  const advanceScript = script<(string | number)[]>('gatewayRoomAdvance', 'advance.lua')

  const get = async (saleId: string) => roomState(saleId, await redis.hgetall(roomKeys(saleId)[0]))

  return {
    async enable(s) {
      const [cfg] = roomKeys(s.saleId)
      const [mode, tickets] = await redis.hmget(cfg, 'mode', 'tickets')
      if (mode !== null && mode !== s.mode && int(tickets ?? undefined) > 0) return 'conflict'
      await redis
        .multi()
        .hset(cfg, { sku: s.sku, mode: s.mode, opens_at: s.opensAt, pass_ttl_ms: s.passTtlMs, rate: s.ratePerSecond })
        .pexpireat(cfg, s.expiresAt)
        .exec()
      await redis.sadd(ROOMS, s.saleId)
      return mode === null ? 'created' : 'updated'
    },
    async disable(saleId) {
      const removed = await redis.del(...roomKeys(saleId))
      await redis.srem(ROOMS, saleId)
      return removed > 0
    },
    get,
    async list() {
      const ids = await redis.smembers(ROOMS)
      const rooms = await Promise.all(ids.map(async (id) => [id, await get(id)] as const))
      const gone = rooms.filter(([, r]) => r === undefined).map(([id]) => id)
      if (gone.length > 0) await redis.srem(ROOMS, ...gone)
      return rooms.flatMap(([, r]) => (r ? [r] : []))
    },
    async ticket(saleId, userId, op, now, drawScore = Math.random()) {
      const r = await ticketScript(...roomKeys(saleId), userId, now, op, drawScore)
      if (r[0] === 'none' || r[0] === 'no_ticket') return { kind: r[0] }
      const [kind, place, ticket, served, joinedAt, admittedAt, ahead, newly] = r as [string, ...number[]]
      return {
        kind: kind === 'new' ? 'new' : 'existing',
        place: place!,
        ticket: ticket!,
        served: served!,
        joinedAt: joinedAt!,
        admittedAt: admittedAt!,
        ahead: ahead!,
        newlyAdmitted: newly === 1,
      }
    },
    leave: (saleId, userId, now) => leaveScript(...roomKeys(saleId), userId, now) as Promise<LeaveResult>,
    async advance(saleId, a) {
      const r = await advanceScript(...roomKeys(saleId), a.instanceId, a.now, a.ratePerSecond, a.burstSeconds, a.paused ? '1' : '0')
      if (r[0] !== 'ok') return undefined
      const [, served, ranked, admittedNow, waiting, fleetRate, drew, tickets] = r
      return {
        served: Number(served),
        ranked: Number(ranked),
        admittedNow: Number(admittedNow),
        waiting: Number(waiting),
        fleetRate: Number(fleetRate),
        drew: Number(drew),
        tickets: Number(tickets),
      }
    },
  }
}
