/**
 * Sale administration (admin token):
 *   POST  /admin/sales                create; the gate is warmed at once (available = total)
 *   PATCH /admin/sales/:id            change title, total, limit, window, reservation TTL
 *   POST  /admin/sales/:id/pause      the gate answers paused from now on
 *   POST  /admin/sales/:id/resume     back on; the gate is rebuilt from Postgres
 *   POST  /admin/sales/:id/rebuild    rebuild the gate from Postgres now (?force=true takes over a running one)
 *   POST  /admin/reconcile            one reconciler pass over every open sale, with its findings
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import {
  ChangeSaleBody,
  CreateSaleBody,
  GateRebuilt,
  RebuildQuery,
  ReconcileReport,
  SaleChanged,
  SaleCreated,
  SaleIdParams,
  SalePaused,
  SaleResumed,
  saleJson,
} from '../contract.ts'
import { changeSale, createSale, pauseSale, resumeSale } from '../domain/administer-sales.ts'
import type { InventoryContext } from '../domain/ports.ts'
import type { Reconciler } from '../domain/reconcile-stock.ts'
import { DEFAULT_RESERVATION_TTL_SECONDS } from '../domain/sale.ts'
import { GateUnavailable, InvalidWindow, RebuildInProgress, SaleClosed, SaleExists, TotalBelowTaken, UnknownSale } from '../errors.ts'

export interface AdminSaleRoutesOptions {
  readonly ctx: InventoryContext
  readonly reconciler: Reconciler
}

const tags = ['inventory']
const ADMIN = { 401: 'No valid bearer token', 403: 'The token lacks the admin role' }
const NO_SALE = 'No such sale (INVENTORY_ERR_UNKNOWN_SALE)'
const CLOSED = 'The sale is closed and can no longer be changed (INVENTORY_ERR_SALE_CLOSED)'
const INVALID_WINDOW = 'The request is not valid (VALIDATION_FAILED), or the sale would not end after it starts (INVENTORY_ERR_INVALID_WINDOW)'
const DATASTORE_DOWN = 'Postgres or the stock gate is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)'
const GATE_DOWN = 'The stock gate could not be told (INVENTORY_ERR_GATE_UNAVAILABLE; retry, it is idempotent), or Postgres is unavailable'
const SCHEMAS = {
  create: {
    summary: 'Creates a sale and warms its stock gate (available = total)',
    tags,
    body: CreateSaleBody,
    response: {
      201: {
        ...jsonResponse('Created', SaleCreated),
        headers: { location: { type: 'string', description: 'The public view of the sale: /sales/{id}' } },
      },
      ...problemResponses({ ...ADMIN, 400: INVALID_WINDOW, 409: 'A sale with this id exists (INVENTORY_ERR_SALE_EXISTS)', 503: DATASTORE_DOWN }),
    },
  },
  change: {
    summary: "Changes a sale's title, total, per-user limit, window or reservation TTL",
    tags,
    params: SaleIdParams,
    body: ChangeSaleBody,
    response: {
      200: jsonResponse('Changed', SaleChanged),
      ...problemResponses({
        ...ADMIN,
        400: INVALID_WINDOW,
        404: NO_SALE,
        409: `${CLOSED}, or the new total is below the units already sold or reserved (INVENTORY_ERR_TOTAL_BELOW_TAKEN)`,
        503: DATASTORE_DOWN,
      }),
    },
  },
  pause: {
    summary: 'Pauses a sale: the gate refuses reservations from now on (idempotent)',
    tags,
    params: SaleIdParams,
    response: { 200: jsonResponse('Paused', SalePaused), ...problemResponses({ ...ADMIN, 404: NO_SALE, 409: CLOSED, 503: GATE_DOWN }) },
  },
  resume: {
    summary: 'Resumes a paused sale; its gate is rebuilt from Postgres (idempotent)',
    tags,
    params: SaleIdParams,
    response: {
      200: jsonResponse('Resumed (or it was not paused)', SaleResumed),
      ...problemResponses({ ...ADMIN, 404: NO_SALE, 409: CLOSED, 503: GATE_DOWN }),
    },
  },
  rebuild: {
    summary: "Rebuilds a sale's stock gate from Postgres now (?force=true takes over a running rebuild)",
    tags,
    params: SaleIdParams,
    querystring: RebuildQuery,
    response: {
      200: jsonResponse('Rebuilt', GateRebuilt),
      ...problemResponses({ ...ADMIN, 404: NO_SALE, 409: 'A rebuild of this sale is running (INVENTORY_ERR_REBUILD_IN_PROGRESS)', 503: GATE_DOWN }),
    },
  },
  reconcile: {
    summary: 'Runs one reconciler pass over every sale that is not closed',
    tags,
    response: {
      200: jsonResponse('One finding per sale (a sale that failed is reported with action failed)', ReconcileReport),
      ...problemResponses({ ...ADMIN, 503: 'Postgres is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)' }, { validates: false }),
    },
  },
}

const gateDown = (saleId: string) => new GateUnavailable(`sale ${saleId}`)

export async function adminSaleRoutes(app: FastifyInstance, { ctx, reconciler }: AdminSaleRoutesOptions): Promise<void> {
  app.post<{ Body: CreateSaleBody }>('/admin/sales', { onRequest: app.requireAdmin, schema: SCHEMAS.create }, async (request, reply) => {
    const b = request.body
    const id = b.id ?? `sale-${randomUUID()}`
    const result = await createSale(ctx, {
      id,
      sku: b.sku,
      title: b.title ?? '',
      totalUnits: b.totalUnits,
      perUserLimit: b.perUserLimit,
      startsAt: new Date(b.startsAt),
      endsAt: new Date(b.endsAt),
      reservationTtlSeconds: b.reservationTtlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS,
    })
    if (result.outcome === 'exists') throw new SaleExists(id)
    if (result.outcome === 'invalid_window') throw new InvalidWindow(result.problem)
    return reply
      .code(201)
      .header('location', `/sales/${encodeURIComponent(id)}`)
      .send({ sale: saleJson(result.sale), gate: result.gate } satisfies Static<typeof SaleCreated>)
  })

  app.patch<{ Params: SaleIdParams; Body: ChangeSaleBody }>('/admin/sales/:id', { onRequest: app.requireAdmin, schema: SCHEMAS.change }, async (request) => {
    const { id } = request.params
    const b = request.body
    const result = await changeSale(ctx, id, {
      ...(b.title !== undefined ? { title: b.title } : {}),
      ...(b.totalUnits !== undefined ? { totalUnits: b.totalUnits } : {}),
      ...(b.perUserLimit !== undefined ? { perUserLimit: b.perUserLimit } : {}),
      ...(b.startsAt !== undefined ? { startsAt: new Date(b.startsAt) } : {}),
      ...(b.endsAt !== undefined ? { endsAt: new Date(b.endsAt) } : {}),
      ...(b.reservationTtlSeconds !== undefined ? { reservationTtlSeconds: b.reservationTtlSeconds } : {}),
    })
    switch (result.outcome) {
      case 'unknown_sale':
        throw new UnknownSale(id)
      case 'closed':
        throw new SaleClosed(id)
      case 'invalid_window':
        throw new InvalidWindow(result.problem)
      case 'below_taken':
        throw new TotalBelowTaken(id, result.detail)
      case 'changed':
        return { sale: saleJson(result.sale), gate: result.gate } satisfies Static<typeof SaleChanged>
    }
  })

  app.post<{ Params: SaleIdParams }>('/admin/sales/:id/pause', { onRequest: app.requireAdmin, schema: SCHEMAS.pause }, async (request) => {
    const { id } = request.params
    const result = await pauseSale(ctx, id).catch((err: unknown) => {
      // Postgres says paused; the gate did not hear it. Retry (idempotent); the reconciler also copies it.
      request.log.warn({ err, saleId: id }, 'sale paused in Postgres but the gate could not be told')
      throw gateDown(id)
    })
    if (result.outcome === 'unknown_sale') throw new UnknownSale(id)
    if (result.outcome === 'closed') throw new SaleClosed(id)
    return { sale: saleJson(result.sale), gate: result.gate } satisfies Static<typeof SalePaused>
  })

  app.post<{ Params: SaleIdParams }>('/admin/sales/:id/resume', { onRequest: app.requireAdmin, schema: SCHEMAS.resume }, async (request) => {
    const { id } = request.params
    const result = await resumeSale(ctx, reconciler, id).catch((err: unknown) => {
      request.log.warn({ err, saleId: id }, 'resume could not rebuild the gate; it stays shut until the reconciler does')
      throw gateDown(id)
    })
    if (result.outcome === 'unknown_sale') throw new UnknownSale(id)
    if (result.outcome === 'closed') throw new SaleClosed(id)
    return { sale: saleJson(result.sale), rebuild: result.rebuild } satisfies Static<typeof SaleResumed>
  })

  app.post<{ Params: SaleIdParams; Querystring: RebuildQuery }>(
    '/admin/sales/:id/rebuild',
    { onRequest: app.requireAdmin, schema: SCHEMAS.rebuild },
    async (request) => {
      const { id } = request.params
      const result = await reconciler.rebuildSale(id, { force: request.query.force ?? false }).catch((err: unknown) => {
        request.log.warn({ err, saleId: id }, 'rebuild failed')
        throw gateDown(id)
      })
      if (result.status === 'unknown_sale') throw new UnknownSale(id)
      if (result.status !== 'rebuilt') throw new RebuildInProgress(id) // in_progress, superseded
      return result satisfies Static<typeof GateRebuilt>
    },
  )

  app.post('/admin/reconcile', { onRequest: app.requireAdmin, schema: SCHEMAS.reconcile }, async () => {
    const sales = await reconciler.runOnce()
    return { sales } satisfies Static<typeof ReconcileReport>
  })
}
