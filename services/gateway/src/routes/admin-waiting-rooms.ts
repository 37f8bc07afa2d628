/**
 * Admin endpoints of the waiting rooms (admin bearer token required; ADR 0039):
 *   PUT    /admin/waiting-rooms/:saleId            opens (201) or changes (200) the room of a sale
 *   DELETE /admin/waiting-rooms/:saleId            closes it: orders need no pass again
 *   GET    /admin/waiting-rooms                    every room, as this instance sees it
 * A room is opened by an admin, not by the gateway on its own: switched on in the middle of a burst it would
 * turn the orders already on their way into 403s (ADR 0039 says more).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { RoomList, RoomParams, RoomRemoved, RoomSettingsBody, RoomView } from '../contract.ts'
import { SaleLookupFailed, SaleNotFound, WaitingRoomModeLocked } from '../errors.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { WaitingRooms } from '../waiting-room/rooms.ts'
import type { RoomMode } from '../waiting-room/store.ts'
import { reach, roomView } from './waiting-room.ts'

export interface AdminWaitingRoomRoutesOptions {
  readonly rooms: WaitingRooms
  /** Where an admin's sale id is looked up (its SKU, start and end). */
  readonly inventory: Upstream
  readonly passTtlSeconds: number
}

const ADMIN = { 401: 'No valid bearer token', 403: 'The token lacks the admin role' }
const SCHEMAS = {
  open: {
    summary: 'Opens (or changes) the waiting room of a sale: from then on POST /orders for its SKU needs a pass',
    tags: ['gateway admin'],
    params: RoomParams,
    body: RoomSettingsBody,
    response: {
      200: jsonResponse('Changed', RoomView),
      201: jsonResponse('Opened', RoomView),
      ...problemResponses({
        ...ADMIN,
        404: 'No such sale',
        409: 'The mode cannot change once tickets were handed out',
        503: 'Redis or the inventory did not answer',
      }),
    },
  },
  close: {
    summary: 'Closes the waiting room of a sale, and forgets every place in it',
    tags: ['gateway admin'],
    params: RoomParams,
    response: { 200: jsonResponse('Closed', RoomRemoved), ...problemResponses({ ...ADMIN, 503: 'Redis did not answer' }) },
  },
  list: {
    summary: 'Every waiting room, as this gateway sees it',
    tags: ['gateway admin'],
    response: { 200: jsonResponse('The rooms', RoomList), ...problemResponses(ADMIN, { validates: false }) },
  },
}

export async function adminWaitingRoomRoutes(app: FastifyInstance, o: AdminWaitingRoomRoutesOptions): Promise<void> {
  const { rooms } = o

  /** The sale's SKU, start and end, from the inventory service. */
  async function lookUpSale(request: FastifyRequest, saleId: string) {
    let answer
    try {
      answer = await o.inventory.call({
        method: 'GET',
        path: `/sales/${encodeURIComponent(saleId)}`,
        headers: { accept: 'application/json', 'x-request-id': String(request.id) },
        clientIp: request.ip,
        priority: 'core',
        deadline: performance.now() + 2_000,
        retryable: true,
      })
    } catch (err) {
      request.log.warn({ err, saleId }, 'waiting room: the sale could not be looked up')
      throw new SaleLookupFailed(saleId)
    }
    if (answer.status === 404) throw new SaleNotFound(saleId)
    if (answer.status !== 200) throw new SaleLookupFailed(saleId)
    const { sale } = JSON.parse(answer.body.toString('utf8')) as { sale: { sku: string; startsAt: string; endsAt: string } }
    return { sku: sale.sku, startsAt: Date.parse(sale.startsAt), endsAt: Date.parse(sale.endsAt) }
  }

  app.put<{ Params: { saleId: string }; Body: { mode?: RoomMode; opensAt?: string; ratePerSecond?: number; passTtlSeconds?: number } }>(
    '/admin/waiting-rooms/:saleId',
    { onRequest: app.requireAdmin, schema: SCHEMAS.open },
    async (request, reply) => {
      const { saleId } = request.params
      const sale = await lookUpSale(request, saleId)
      const b = request.body
      const outcome = await reach(request, () =>
        rooms.enable({
          saleId,
          sku: sale.sku,
          mode: b.mode ?? 'fifo',
          opensAt: b.opensAt === undefined ? sale.startsAt : Date.parse(b.opensAt),
          passTtlMs: (b.passTtlSeconds ?? o.passTtlSeconds) * 1000,
          ratePerSecond: b.ratePerSecond ?? 0,
          // The room outlives the sale by a day, for the record; then Redis forgets it by itself.
          expiresAt: Math.max(sale.endsAt, Date.now()) + 86_400_000,
        }),
      )
      if (outcome === 'conflict') throw new WaitingRoomModeLocked(saleId)
      request.log.warn({ saleId, sku: sale.sku, ...b, by: request.user?.userId }, `waiting room ${outcome === 'created' ? 'opened' : 'changed'}`)
      return reply.code(outcome === 'created' ? 201 : 200).send(roomView(rooms.bySale(saleId)!))
    },
  )

  app.delete<{ Params: { saleId: string } }>('/admin/waiting-rooms/:saleId', { onRequest: app.requireAdmin, schema: SCHEMAS.close }, async (request) => {
    const { saleId } = request.params
    const removed = await reach(request, () => rooms.disable(saleId))
    request.log.warn({ saleId, removed, by: request.user?.userId }, 'waiting room closed')
    return { saleId, removed }
  })

  app.get('/admin/waiting-rooms', { onRequest: app.requireAdmin, schema: SCHEMAS.list }, async () => ({ rooms: rooms.list().map(roomView) }))
}
