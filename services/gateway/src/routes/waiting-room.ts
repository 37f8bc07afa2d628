/**
 * The waiting rooms' API (ADR 0039). Buyers (bearer token; bot score and rate limits apply as on every route):
 *   POST   /sales/:id/waiting-room/ticket          join: 201 a new ticket, 200 the one you hold (one per buyer)
 *   GET    /sales/:id/waiting-room/ticket?wait=s   poll: your position and estimated wait, or the pass once
 *                                                  admitted; ?wait= holds the answer until there is news
 *   DELETE /sales/:id/waiting-room/ticket          leave: your place goes to those behind you
 *   GET    /sales/:id/waiting-room                 the room: length, admission rate (no token needed)
 * Sold out is told to everyone in the room at once: every answer, held polls included, becomes the same 409
 * ORDER_ERR_SOLD_OUT the order service gives. Admins open and close rooms: admin-waiting-rooms.ts.
 * Redis unreachable: join, poll and leave answer 503 + Retry-After (fail closed: nobody is admitted past the
 * line, and everyone's place is kept in Redis); passes already given keep working, they need no Redis.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthRouteConfig } from '@flashsale/auth'
import { jitteredRetryAfterSeconds } from '@flashsale/resilience'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { LeaveAnswer, PollQuery, RoomView, SaleParams, Ticket } from '../contract.ts'
import type { SoldOutEdge } from '../domain/sold-out-edge.ts'
import { NoTicket, NoWaitingRoom, SoldOutAtEdge, WaitingRoomUnavailable } from '../errors.ts'
import type { Funnel } from '../funnel.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { IntakeRouteConfig } from '../intake.ts'
import type { LiveRoom, WaitingRooms } from '../waiting-room/rooms.ts'
import type { RoomState, TicketResult } from '../waiting-room/store.ts'

export interface WaitingRoomRoutesOptions {
  readonly rooms: WaitingRooms
  readonly funnel: Funnel
  readonly soldOut: SoldOutEdge | undefined
  readonly metrics: GatewayMetrics
}

type Params = { id: string }
type TicketAnswer = Extract<TicketResult, { kind: 'new' | 'existing' }>

const BUYER = { 401: 'No valid bearer token' }
const tags = ['waiting room']
const SOLD_OUT = { 409: 'Sold out (ORDER_ERR_SOLD_OUT): told to everyone in the room at once' }
const DOWN = { 503: 'Redis cannot be reached (GATEWAY_ERR_WAITING_ROOM_UNAVAILABLE), with Retry-After; your place is kept' }
const SCHEMAS = {
  join: {
    summary: "Joins the sale's waiting room: one ticket per buyer (joining again answers the same ticket)",
    tags,
    params: SaleParams,
    security: [{ bearerAuth: [] }],
    response: {
      200: jsonResponse('The ticket you already hold', Ticket),
      201: jsonResponse('Your new ticket', Ticket),
      ...problemResponses({ ...BUYER, 403: 'Blocked address or bot', 404: 'The sale has no waiting room', ...SOLD_OUT, 429: 'Rate limited', ...DOWN }),
    },
  },
  poll: {
    summary: 'Your place in line, or your pass once admitted; ?wait= holds the answer until there is news',
    tags,
    params: SaleParams,
    querystring: PollQuery,
    security: [{ bearerAuth: [] }],
    response: {
      200: jsonResponse('Your ticket now', Ticket),
      ...problemResponses({
        ...BUYER,
        403: 'Blocked address or bot',
        404: 'No waiting room, or no ticket of yours',
        ...SOLD_OUT,
        429: 'Rate limited',
        ...DOWN,
      }),
    },
  },
  leave: {
    summary: 'Gives up your place (those behind you move up); too late once admitted',
    tags,
    params: SaleParams,
    security: [{ bearerAuth: [] }],
    response: {
      200: jsonResponse('What became of your place', LeaveAnswer),
      ...problemResponses({ ...BUYER, 403: 'Blocked address or bot', 404: 'No waiting room, or no ticket of yours', 429: 'Rate limited', ...DOWN }),
    },
  },
  room: {
    summary: "The sale's waiting room: how many wait and how fast they are admitted (as this gateway saw it last, within a second)",
    tags,
    params: SaleParams,
    response: { 200: jsonResponse('The room', RoomView), ...problemResponses({ 404: 'The sale has no waiting room' }) },
  },
}

/**
 * The door (intake.ts): buyers in a room wait their turn there by deadline, like order placement, never under
 * CoDel. The token is verified in the handler, after sold out has had its say (`admit`).
 */
const BUYER_ROUTE: IntakeRouteConfig & AuthRouteConfig = { budgetMs: 2_000, priority: 'core', byDeadline: true, authenticateLate: true }

const iso = (ms: number) => new Date(ms).toISOString()

export function roomView(room: LiveRoom) {
  const s = room.state
  return {
    saleId: s.saleId,
    sku: s.sku,
    mode: s.mode,
    opensAt: iso(s.opensAt),
    waiting: room.waiting,
    admitted: s.served,
    admissionRatePerSecond: room.fleetRate,
    fixedRatePerSecond: s.ratePerSecond,
    passTtlSeconds: Math.round(s.passTtlMs / 1000),
  }
}

/**
 * A call to the room's Redis state: any failure is the 503 + Retry-After the caller gets (fail closed: nothing
 * half-done, everyone's place kept). Every call wrapped here touches Redis only.
 */
export async function reach<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    request.log.warn({ err }, 'waiting room: Redis did not answer')
    const e = new WaitingRoomUnavailable()
    e.retryAfterSeconds = jitteredRetryAfterSeconds(1_000)
    throw e
  }
}

export async function waitingRoomRoutes(app: FastifyInstance, o: WaitingRoomRoutesOptions): Promise<void> {
  const { rooms, metrics } = o

  /** The room's settings: this instance's copy, or Redis's when it has not seen the room yet (opened elsewhere). */
  const stateOf = async (request: FastifyRequest, saleId: string, room: LiveRoom | undefined): Promise<RoomState> => {
    if (room) return room.state
    const state = await reach(request, () => rooms.fetch(saleId))
    if (!state) throw new NoWaitingRoom(saleId)
    return state
  }

  /**
   * Sold out as the room tells it: marked at the edge, or the inventory's last stock message said 0 and none
   * said otherwise since (levels are kept while the stock channel is subscribed, and forgotten when it is
   * lost). Not the edge's 2 s mark alone: after it lapses nothing renews it while nobody orders, and the crowd
   * would be handed tickets for a sale with nothing left. Telling a buyer sold out takes nothing from them:
   * their ticket stays, and if units come back the next message reopens the room.
   */
  const refuseIfSoldOut = (saleId: string, room: LiveRoom | undefined) => {
    const sku = room?.state.sku
    if (sku === undefined || o.soldOut?.unitsLeft(sku) !== 0) return
    const err = new SoldOutAtEdge(saleId)
    err.details = { saleId, sku }
    throw err
  }

  /** The ticket as the buyer reads it. */
  const answer = (room: RoomState, userId: string, t: TicketAnswer, fleetRate: number) => {
    const now = Date.now()
    const base = { saleId: room.saleId, sku: room.sku, ticket: t.ticket, opensAt: iso(room.opensAt) }
    if (t.admittedAt > 0) {
      if (t.newlyAdmitted) metrics.roomWait.observe({ sale_id: room.saleId }, (t.admittedAt - t.joinedAt) / 1000)
      const { pass, expiresAt } = rooms.pass(room, userId, t.place, t.admittedAt)
      if (expiresAt <= now) return { ...base, state: 'expired' as const, pollAfterSeconds: 0 }
      return { ...base, state: 'admitted' as const, pollAfterSeconds: 0, pass, passExpiresAt: iso(expiresAt) }
    }
    const untilOpen = Math.max(0, room.opensAt - now) / 1000
    if (t.place === 0) return { ...base, state: 'drawing' as const, pollAfterSeconds: jitteredRetryAfterSeconds(Math.min(untilOpen * 1000, 10_000)) }
    const position = t.ahead + 1
    const estimate = fleetRate > 0 ? untilOpen + position / fleetRate : undefined
    return {
      ...base,
      state: 'waiting' as const,
      position,
      ...(estimate === undefined ? {} : { estimatedWaitSeconds: Math.round(estimate * 10) / 10 }),
      // A quarter of the expected wait, at most 10 s, jittered: polls spread out instead of coming as one wave.
      pollAfterSeconds: jitteredRetryAfterSeconds(Math.min(((estimate ?? 8) * 1000) / 4, 10_000)),
    }
  }

  /**
   * The token verified (an invalid one is the gateway's 401, as on every route), then the funnel passed, then
   * out of the door: it bounds the gateway's own work, and what follows is a wait for Redis (a held slot per
   * Redis call let 5,000 joins a second pile up at the door and be refused there). Answers the buyer's id.
   */
  const authenticated = async (request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    if (request.headers.authorization === undefined) await app.requireUser(request, reply)
    await app.authenticate(request)
    const invalid = app.invalidToken(request, reply)
    if (invalid) throw invalid
    await app.requireUser(request, reply)
    await o.funnel(request, reply)
    request.leaveIntake()
    return request.user!.userId
  }

  /**
   * Sold out first, as at the order route's edge (ADR 0027): a buyer who comes after the last unit costs no
   * signature check, no Redis call and no rate-limit quota (after a sale sells out, nearly every arrival is
   * one). A request without a token is still a 401 first.
   */
  const admit = async (request: FastifyRequest, reply: FastifyReply, saleId: string): Promise<string> => {
    if (request.headers.authorization === undefined) await app.requireUser(request, reply)
    refuseIfSoldOut(saleId, rooms.bySale(saleId))
    return authenticated(request, reply)
  }

  app.post<{ Params: Params }>('/sales/:id/waiting-room/ticket', { schema: SCHEMAS.join, config: BUYER_ROUTE }, async (request, reply) => {
    const saleId = request.params.id
    const userId = await admit(request, reply, saleId)
    const t = await reach(request, () => rooms.ticket(saleId, userId, 'join'))
    if (t.kind === 'none' || t.kind === 'no_ticket') throw new NoWaitingRoom(saleId)
    const room = rooms.bySale(saleId)
    // Sold out while this join was at Redis: told now rather than at the first poll (the ticket is kept).
    refuseIfSoldOut(saleId, room)
    const state = await stateOf(request, saleId, room)
    metrics.roomTickets.inc({ sale_id: saleId, outcome: t.kind })
    const body = answer(state, userId, t, room?.fleetRate ?? 0)
    if (body.state !== 'admitted') reply.header('retry-after', String(body.pollAfterSeconds))
    return reply.code(t.kind === 'new' ? 201 : 200).send(body)
  })

  app.get<{ Params: Params; Querystring: { wait?: number } }>(
    '/sales/:id/waiting-room/ticket',
    { schema: SCHEMAS.poll, config: BUYER_ROUTE },
    async (request, reply) => {
      const saleId = request.params.id
      const userId = await admit(request, reply, saleId)
      const holdUntil = performance.now() + (request.query.wait ?? 0) * 1000
      // Held out of the door (admit left it), and let go if the buyer hangs up.
      const gone = new AbortController()
      request.raw.once('close', () => gone.abort())
      for (;;) {
        // Woken by sold out: told at once, with no Redis call (thousands of held polls answer together).
        refuseIfSoldOut(saleId, rooms.bySale(saleId))
        const t = await reach(request, () => rooms.ticket(saleId, userId, 'poll'))
        if (t.kind === 'none') throw new NoWaitingRoom(saleId)
        if (t.kind === 'no_ticket') throw new NoTicket(saleId)
        const room = rooms.bySale(saleId)
        const state = await stateOf(request, saleId, room)
        const body = answer(state, userId, t, room?.fleetRate ?? 0)
        const left = holdUntil - performance.now()
        if (body.state === 'admitted' || body.state === 'expired' || left <= 0 || gone.signal.aborted || rooms.closing) {
          if (body.state !== 'admitted') reply.header('retry-after', String(body.pollAfterSeconds))
          return body
        }
        // Sold out may have been told while this poll was at Redis: checked again, in the same turn as it is held.
        refuseIfSoldOut(saleId, rooms.bySale(saleId))
        await rooms.waitForNews(saleId, t.place, left, gone.signal)
      }
    },
  )

  app.delete<{ Params: Params }>('/sales/:id/waiting-room/ticket', { schema: SCHEMAS.leave, config: BUYER_ROUTE }, async (request, reply) => {
    const saleId = request.params.id
    const userId = await authenticated(request, reply)
    const outcome = await reach(request, () => rooms.leave(saleId, userId))
    if (outcome === 'none') throw new NoWaitingRoom(saleId)
    if (outcome === 'no_ticket') throw new NoTicket(saleId)
    if (outcome === 'left') metrics.roomAbandoned.inc({ sale_id: saleId })
    return { saleId, outcome }
  })

  app.get<{ Params: Params }>('/sales/:id/waiting-room', { schema: SCHEMAS.room }, async (request) => {
    const room = rooms.bySale(request.params.id)
    if (!room) throw new NoWaitingRoom(request.params.id)
    return roomView(room)
  })
}
