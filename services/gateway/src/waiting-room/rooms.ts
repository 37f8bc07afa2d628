/**
 * The waiting rooms as one gateway instance runs them: which sales have a room (read from Redis every
 * second, and at once after an admin's change here), the watermark moved every tick at the rate this
 * instance measures it can take, and the long polls held open until their holder is admitted, the sale sells
 * out, the room closes or the wait is over.
 *
 * Admission rate: Cloudflare's Waiting Room advises admitting at about 75% of what the origin takes; here
 * "what the origin takes" is measured, not configured: the order upstream's concurrency limit over its own
 * service time (Little's law, L = λW), the same signals the adaptive limit already keeps (ADR 0025: the
 * upstream's time, not the gateway's). Admissions pause while this instance is degraded, its order breaker
 * is not closed or its order queue stands (CoDel's overload signal): the moments it is refusing.
 */
import { randomInt, randomUUID } from 'node:crypto'
import type { Log } from '@flashsale/logging'
import { startLoop, type Loop } from '@flashsale/resilience'
import type { GatewayMetrics } from '../metrics.ts'
import type { PassSigner, PassVerdict } from './pass.ts'
import type { RoomSettings, RoomState, RoomStore, TicketResult } from './store.ts'

export type PauseReason = 'degraded' | 'breaker' | 'queue'

/** What the gateway's own signals say now (app.ts reads them from the order upstream and degradation). */
export interface LoadSignals {
  readonly pausedBy: PauseReason | undefined
  /** Order calls per second the order path answers at its limit; undefined until measured. */
  readonly capacityPerSecond: number | undefined
}

export interface AdmissionRateOptions {
  /** Share of the measured capacity admitted (Cloudflare's advice: about 0.75). */
  readonly share: number
  /** Places per second before anything is measured. */
  readonly startRate: number
  readonly maxRate: number
}

/** Places per second this instance admits, from its measured capacity. */
export function admissionRate(capacityPerSecond: number | undefined, { share, startRate, maxRate }: AdmissionRateOptions): number {
  const rate = capacityPerSecond !== undefined && capacityPerSecond > 0 ? capacityPerSecond * share : startRate
  return Math.max(0, Math.min(maxRate, rate))
}

/** A room as this instance last saw it. */
export interface LiveRoom {
  /** Its settings and counters; `served` (the watermark) as of this instance's last advance or read. */
  readonly state: RoomState
  readonly waiting: number
  readonly fleetRate: number
}

export type PassCheck =
  | { readonly ok: true; readonly id: string }
  | { readonly ok: false; readonly verdict: Exclude<PassVerdict, { ok: true }>['reason'] | 'missing' | 'wrong_user' | 'wrong_sale' }

export interface WaitingRooms {
  bySale(saleId: string): LiveRoom | undefined
  bySku(sku: string): LiveRoom | undefined
  list(): LiveRoom[]
  /** Reads one room from Redis into this instance's copy (a room opened elsewhere since the last refresh). */
  fetch(saleId: string): Promise<RoomState | undefined>
  enable(settings: RoomSettings): ReturnType<RoomStore['enable']>
  disable(saleId: string): Promise<boolean>
  ticket(saleId: string, userId: string, op: 'join' | 'poll'): Promise<TicketResult>
  leave(saleId: string, userId: string): ReturnType<RoomStore['leave']>
  /** Resolves when the holder of `place` (0: not drawn yet) may have news, after `ms`, or on abort. */
  waitForNews(saleId: string, place: number, ms: number, signal?: AbortSignal): Promise<void>
  /** The sale of this SKU sold out (the stock channel or a proxied answer said so): every held poll answers now. */
  soldOut(sku: string): void
  pass(room: RoomState, userId: string, place: number, admittedAt: number): { readonly pass: string; readonly expiresAt: number }
  checkPass(room: RoomState, pass: string | undefined, userId: string, sku: string): PassCheck
  start(): void
  /** Stops the tick and answers every held poll; polls held after it return at once (the instance is closing). */
  stop(): Promise<void>
  readonly closing: boolean
}

export interface WaitingRoomsOptions {
  readonly store: RoomStore
  readonly passes: PassSigner
  readonly load: () => LoadSignals
  readonly rate: AdmissionRateOptions
  /** Seconds of admissions a burst into an empty room gets at once. */
  readonly burstSeconds: number
  readonly tickMs: number
  readonly refreshMs: number
  readonly metrics: GatewayMetrics
  readonly log: Pick<Log, 'warn' | 'info'>
  readonly now?: () => number
}

interface Waiter {
  readonly place: number
  wake(): void
}

export function createWaitingRooms(o: WaitingRoomsOptions): WaitingRooms {
  const now = o.now ?? Date.now
  const instanceId = randomUUID()
  const rooms = new Map<string, LiveRoom>()
  const skus = new Map<string, string>()
  const held = new Map<string, Set<Waiter>>()
  let loop: Loop | undefined
  let closing = false
  let refreshedAt = -Infinity
  let errorLoggedAt = -Infinity

  const wakeAll = (saleId: string, which: (w: Waiter) => boolean = () => true) => {
    for (const w of held.get(saleId) ?? []) if (which(w)) w.wake()
  }

  /** Takes a room's settings read from Redis; the watermark never goes back, and the tick's figures stay. */
  const remember = (state: RoomState) => {
    const before = rooms.get(state.saleId)
    rooms.set(state.saleId, {
      state: { ...state, served: Math.max(before?.state.served ?? 0, state.served) },
      waiting: before?.waiting ?? 0,
      fleetRate: before?.fleetRate ?? 0,
    })
    skus.set(state.sku, state.saleId)
  }

  async function refresh() {
    const states = await o.store.list()
    const seen = new Set<string>()
    skus.clear()
    for (const state of states) {
      seen.add(state.saleId)
      remember(state)
    }
    for (const saleId of [...rooms.keys()]) {
      if (seen.has(saleId)) continue
      rooms.delete(saleId)
      o.metrics.roomLength.remove({ sale_id: saleId })
      o.metrics.roomRate.remove({ sale_id: saleId })
      wakeAll(saleId)
    }
    refreshedAt = performance.now()
  }

  async function tick() {
    if (performance.now() - refreshedAt >= o.refreshMs) await refresh()
    const signals = o.load()
    for (const reason of ['degraded', 'breaker', 'queue'] as const) o.metrics.roomPaused.set({ reason }, signals.pausedBy === reason ? 1 : 0)
    const rate = admissionRate(signals.capacityPerSecond, o.rate)
    await Promise.all(
      [...rooms.values()].map(async (room) => {
        const saleId = room.state.saleId
        const r = await o.store.advance(saleId, {
          instanceId,
          now: now(),
          ratePerSecond: rate,
          burstSeconds: o.burstSeconds,
          paused: signals.pausedBy !== undefined,
        })
        if (!r) return void (refreshedAt = -Infinity) // gone: the next pass re-reads the list
        if (r.admittedNow > 0) o.metrics.roomAdmitted.inc({ sale_id: saleId }, r.admittedNow)
        o.metrics.roomLength.set({ sale_id: saleId }, r.waiting)
        o.metrics.roomRate.set({ sale_id: saleId }, r.fleetRate)
        const moved = r.served > room.state.served
        rooms.set(saleId, {
          state: { ...room.state, served: r.served, ranked: r.ranked, tickets: r.tickets },
          waiting: r.waiting,
          fleetRate: r.fleetRate,
        })
        if (moved || r.drew > 0) wakeAll(saleId, (w) => w.place <= r.served || (w.place === 0 && r.drew > 0))
      }),
    )
  }

  return {
    bySale: (saleId) => rooms.get(saleId),
    bySku: (sku) => {
      const saleId = skus.get(sku)
      return saleId === undefined ? undefined : rooms.get(saleId)
    },
    list: () => [...rooms.values()],
    async fetch(saleId) {
      const state = await o.store.get(saleId)
      if (state && !rooms.has(saleId)) remember(state)
      return state
    },
    async enable(settings) {
      const outcome = await o.store.enable(settings)
      if (outcome !== 'conflict') await refresh()
      return outcome
    },
    async disable(saleId) {
      const removed = await o.store.disable(saleId)
      await refresh()
      return removed
    },
    // A lottery entrant's score: from the CSPRNG, so nobody can predict or steer the draw.
    ticket: (saleId, userId, op) => o.store.ticket(saleId, userId, op, now(), randomInt(2 ** 47) / 2 ** 47),
    leave: (saleId, userId) => o.store.leave(saleId, userId, now()),
    waitForNews(saleId, place, ms, signal) {
      if (closing) return Promise.resolve()
      return new Promise<void>((resolve) => {
        let set = held.get(saleId)
        if (!set) held.set(saleId, (set = new Set()))
        const waiters = set
        const waiter: Waiter = {
          place,
          wake() {
            clearTimeout(timer)
            signal?.removeEventListener('abort', waiter.wake)
            if (!waiters.delete(waiter)) return
            if (waiters.size === 0 && held.get(saleId) === waiters) held.delete(saleId)
            o.metrics.roomHeldPolls.dec()
            resolve()
          },
        }
        const timer = setTimeout(waiter.wake, ms)
        waiters.add(waiter)
        o.metrics.roomHeldPolls.inc()
        if (signal?.aborted) return waiter.wake()
        signal?.addEventListener('abort', waiter.wake, { once: true })
      })
    },
    soldOut(sku) {
      const saleId = skus.get(sku)
      if (saleId !== undefined) wakeAll(saleId)
    },
    pass(room, userId, place, admittedAt) {
      const expiresAt = admittedAt + room.passTtlMs
      return { pass: o.passes.issue({ userId, saleId: room.saleId, sku: room.sku, place, expiresAt }).pass, expiresAt }
    },
    checkPass(room, pass, userId, sku) {
      if (pass === undefined || pass === '') return { ok: false, verdict: 'missing' }
      const v = o.passes.verify(pass, now())
      if (!v.ok) return { ok: false, verdict: v.reason }
      if (v.claims.userId !== userId) return { ok: false, verdict: 'wrong_user' }
      if (v.claims.saleId !== room.saleId || v.claims.sku !== sku) return { ok: false, verdict: 'wrong_sale' }
      return { ok: true, id: v.id }
    },
    start() {
      loop ??= startLoop(tick, {
        intervalMs: o.tickMs,
        onError: (err) => {
          // Redis down: every tick fails alike; one line every 10 s is enough.
          if (performance.now() - errorLoggedAt < 10_000) return
          errorLoggedAt = performance.now()
          o.log.warn({ err }, 'waiting rooms: the watermark could not be moved (Redis); admissions wait for it')
        },
      })
    },
    async stop() {
      closing = true
      await loop?.stop()
      for (const saleId of [...held.keys()]) wakeAll(saleId)
    },
    get closing() {
      return closing
    },
  }
}
