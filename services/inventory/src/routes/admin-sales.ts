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
import { changeSale, createSale, pauseSale, resumeSale } from '../domain/administer-sales.ts'
import type { InventoryContext } from '../domain/context.ts'
import type { Reconciler } from '../domain/reconcile-stock.ts'
import { DEFAULT_RESERVATION_TTL_SECONDS } from '../domain/sale.ts'
import { GateUnavailable, InvalidWindow, RebuildInProgress, SaleClosed, SaleExists, TotalBelowTaken, UnknownSale } from '../errors.ts'
import { ChangeSaleBody, CreateSaleBody, RebuildQuery, SaleIdParams, saleJson } from './schemas.ts'

export interface AdminSaleRoutesOptions {
  readonly ctx: InventoryContext
  readonly reconciler: Reconciler
}

const gateDown = (saleId: string) => Object.assign(new GateUnavailable(`sale ${saleId}`), { retryAfterSeconds: 1 })

export async function adminSaleRoutes(app: FastifyInstance, { ctx, reconciler }: AdminSaleRoutesOptions): Promise<void> {
  app.post<{ Body: CreateSaleBody }>('/admin/sales', { onRequest: app.requireAdmin, schema: { body: CreateSaleBody } }, async (request, reply) => {
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
      .send({ sale: saleJson(result.sale), gate: result.gate })
  })

  app.patch<{ Params: SaleIdParams; Body: ChangeSaleBody }>(
    '/admin/sales/:id',
    { onRequest: app.requireAdmin, schema: { params: SaleIdParams, body: ChangeSaleBody } },
    async (request) => {
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
          return { sale: saleJson(result.sale), gate: result.gate }
      }
    },
  )

  app.post<{ Params: SaleIdParams }>('/admin/sales/:id/pause', { onRequest: app.requireAdmin, schema: { params: SaleIdParams } }, async (request) => {
    const { id } = request.params
    const result = await pauseSale(ctx, id).catch((err: unknown) => {
      // Postgres says paused; the gate did not hear it. Retry (idempotent); the reconciler also copies it.
      request.log.warn({ err, saleId: id }, 'sale paused in Postgres but the gate could not be told')
      throw gateDown(id)
    })
    if (result.outcome === 'unknown_sale') throw new UnknownSale(id)
    if (result.outcome === 'closed') throw new SaleClosed(id)
    return { sale: saleJson(result.sale), gate: result.gate }
  })

  app.post<{ Params: SaleIdParams }>('/admin/sales/:id/resume', { onRequest: app.requireAdmin, schema: { params: SaleIdParams } }, async (request) => {
    const { id } = request.params
    const result = await resumeSale(ctx, reconciler, id).catch((err: unknown) => {
      request.log.warn({ err, saleId: id }, 'resume could not rebuild the gate; it stays shut until the reconciler does')
      throw gateDown(id)
    })
    if (result.outcome === 'unknown_sale') throw new UnknownSale(id)
    if (result.outcome === 'closed') throw new SaleClosed(id)
    return { sale: saleJson(result.sale), rebuild: result.rebuild }
  })

  app.post<{ Params: SaleIdParams; Querystring: RebuildQuery }>(
    '/admin/sales/:id/rebuild',
    { onRequest: app.requireAdmin, schema: { params: SaleIdParams, querystring: RebuildQuery } },
    async (request) => {
      const { id } = request.params
      const result = await reconciler.rebuildSale(id, { force: request.query.force ?? false }).catch((err: unknown) => {
        request.log.warn({ err, saleId: id }, 'rebuild failed')
        throw gateDown(id)
      })
      if (result.status === 'unknown_sale') throw new UnknownSale(id)
      if (result.status === 'in_progress' || result.status === 'superseded') throw new RebuildInProgress(id)
      return result
    },
  )

  app.post('/admin/reconcile', { onRequest: app.requireAdmin }, async () => ({ sales: await reconciler.runOnce() }))
}
