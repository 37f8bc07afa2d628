/**
 * The order pipeline's steps on reservations (admin/service token), in batches of up to 500 order ids:
 *   POST /admin/reservations/claim    before the worker's transaction: reserved → committing
 *   POST /admin/reservations/commit   after it commits: → committed (units now in Postgres `sold`)
 *   POST /admin/reservations/confirm  paid: → confirmed (no longer expires)
 * Each answers 200 {results: [{orderId, outcome, reservation?}]}; see the README for what the worker does
 * with each outcome.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { OrderIdsBody, ReservationSteps, reservationJson } from '../contract.ts'
import type { InventoryContext } from '../domain/ports.ts'
import { advanceReservations } from '../domain/manage-reservations.ts'
import type { AdvanceTarget } from '../domain/reservation.ts'
import { GateUnavailable } from '../errors.ts'

const STEPS: ReadonlyArray<readonly [string, AdvanceTarget]> = [
  ['claim', 'committing'],
  ['commit', 'committed'],
  ['confirm', 'confirmed'],
]

const SUMMARIES: Readonly<Record<AdvanceTarget, string>> = {
  committing: "Claims reservations for the order worker's transaction (reserved → committing)",
  committed: 'Marks reservations persisted after the worker committed (→ committed)',
  confirmed: 'Marks reservations paid: they no longer expire (→ confirmed)',
}

function schemaFor(target: AdvanceTarget) {
  return {
    summary: SUMMARIES[target],
    tags: ['inventory'],
    body: OrderIdsBody,
    response: {
      200: jsonResponse('One result per order id', ReservationSteps),
      ...problemResponses({
        401: 'No valid bearer token',
        403: 'The token lacks the admin role',
        503: 'The stock gate cannot answer (INVENTORY_ERR_GATE_UNAVAILABLE); retry the batch (every step is idempotent)',
      }),
    },
  }
}

export async function adminReservationRoutes(app: FastifyInstance, { ctx }: { ctx: InventoryContext }): Promise<void> {
  for (const [step, target] of STEPS) {
    app.post<{ Body: OrderIdsBody }>(`/admin/reservations/${step}`, { onRequest: app.requireAdmin, schema: schemaFor(target) }, async (request) => {
      const results = await advanceReservations(ctx, request.body.orderIds, target).catch((err: unknown) => {
        request.log.warn({ err, step }, 'gate unreachable')
        throw new GateUnavailable(`${step} step`)
      })
      return {
        results: results.map((r) => ({ orderId: r.orderId, outcome: r.outcome, ...(r.reservation ? { reservation: reservationJson(r.reservation) } : {}) })),
      } satisfies Static<typeof ReservationSteps>
    })
  }
}
