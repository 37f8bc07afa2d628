/**
 * Sale administration (admin only) and the public view of a sale.
 *   create: insert the sale and its ledger row, then warm the gate (available = total)
 *   change: update in one transaction; a new total moves the gate's available units inside it, refused when
 *           units already sold or reserved would not fit
 *   pause:  Postgres first, then the gate; the reconciler re-copies the state every pass, so a gate that
 *           missed it (Redis unreachable) catches up within one interval
 *   resume: back to active (or scheduled/closed by the clock), and the gate is rebuilt from Postgres
 */
import { SaleAlreadyExists, TotalBelowSold, type GateState, type InventoryContext } from './ports.ts'
import type { RebuildResult, Reconciler } from './reconcile-stock.ts'
import { gateStatus, stateForTime, windowProblem, type GateStatus, type NewSale, type Sale, type SaleChanges } from './sale.ts'

export type CreateSaleResult =
  | { readonly outcome: 'created'; readonly sale: Sale; readonly gate: 'ready' | 'pending' }
  | { readonly outcome: 'exists' }
  | { readonly outcome: 'invalid_window'; readonly problem: string }

export async function createSale(ctx: InventoryContext, input: NewSale): Promise<CreateSaleResult> {
  const problem = windowProblem(input.startsAt, input.endsAt)
  if (problem) return { outcome: 'invalid_window', problem }
  let sale: Sale
  try {
    sale = await ctx.sales.create(input)
  } catch (err) {
    if (err instanceof SaleAlreadyExists) return { outcome: 'exists' }
    throw err
  }
  // A window that has already begun makes an active sale now, not at the reconciler's next pass.
  const state = stateForTime(sale, ctx.clock.now())
  if (state !== sale.state) sale = (await ctx.sales.setState(sale.id, [sale.state], state)) ?? sale
  // Warm the gate now, not at the first buyer. If Redis cannot take it, the sale still exists and the
  // reconciler's next pass finds the gate missing and builds it.
  try {
    const loaded = await ctx.gate.load({ sale, ledger: { total: sale.totalUnits, sold: 0 }, userUnits: new Map(), token: '', seqA: 0, now: ctx.clock.now() })
    return { outcome: 'created', sale, gate: loaded.status === 'loaded' ? 'ready' : 'pending' }
  } catch (err) {
    ctx.log.warn({ err, saleId: sale.id }, 'sale created but the gate could not be warmed; the reconciler will build it')
    return { outcome: 'created', sale, gate: 'pending' }
  }
}

export type ChangeSaleResult =
  | { readonly outcome: 'changed'; readonly sale: Sale; readonly gate: GateState | 'pending' }
  | { readonly outcome: 'unknown_sale' }
  | { readonly outcome: 'closed' }
  | { readonly outcome: 'invalid_window'; readonly problem: string }
  | { readonly outcome: 'below_taken'; readonly detail: string }

class BelowTaken extends Error {}

export async function changeSale(ctx: InventoryContext, saleId: string, changes: SaleChanges): Promise<ChangeSaleResult> {
  const current = await ctx.sales.get(saleId)
  if (!current) return { outcome: 'unknown_sale' }
  if (current.state === 'closed') return { outcome: 'closed' }
  const problem = windowProblem(changes.startsAt ?? current.startsAt, changes.endsAt ?? current.endsAt)
  if (problem) return { outcome: 'invalid_window', problem }

  let moved = 0
  let updated: Sale | null
  try {
    updated = await ctx.sales.update(saleId, changes, async (before, after) => {
      const delta = after.totalUnits - before.totalUnits
      if (delta === 0) return
      // Inside the transaction, with the sale's row locked: concurrent changes apply one at a time, and a
      // refusal here rolls the Postgres change back.
      const r = await ctx.gate.adjust(saleId, delta, after.totalUnits, ctx.clock.now())
      if (r.status === 'below_taken') throw new BelowTaken(`${r.available ?? 0} units are left to give and ${-delta} would be removed`)
      if (r.status === 'ok') moved = delta
    })
  } catch (err) {
    if (err instanceof BelowTaken) return { outcome: 'below_taken', detail: err.message }
    if (err instanceof TotalBelowSold) return { outcome: 'below_taken', detail: 'more units are sold than the new total' }
    // The gate moved but the commit failed: move it back (the reconciler would repair it later anyway).
    if (moved !== 0) await ctx.gate.adjust(saleId, -moved, current.totalUnits, ctx.clock.now()).catch(() => {})
    throw err
  }
  if (!updated) return { outcome: 'unknown_sale' }
  return { outcome: 'changed', sale: updated, gate: await refreshGate(ctx, updated) }
}

export type PauseResult =
  { readonly outcome: 'paused'; readonly sale: Sale; readonly gate: GateState } | { readonly outcome: 'unknown_sale' } | { readonly outcome: 'closed' }

/** Idempotent. Throws when the gate cannot be told (the caller answers 503 and the admin retries). */
export async function pauseSale(ctx: InventoryContext, saleId: string): Promise<PauseResult> {
  const sale = (await ctx.sales.setState(saleId, ['scheduled', 'active', 'paused'], 'paused')) ?? (await ctx.sales.get(saleId))
  if (!sale) return { outcome: 'unknown_sale' }
  if (sale.state === 'closed') return { outcome: 'closed' }
  return { outcome: 'paused', sale, gate: await ctx.gate.refresh(sale, ctx.clock.now()) }
}

export type ResumeResult =
  | { readonly outcome: 'resumed'; readonly sale: Sale; readonly rebuild: RebuildResult | { readonly status: 'not_paused' } }
  | { readonly outcome: 'unknown_sale' }
  | { readonly outcome: 'closed' }

/** Idempotent: resuming a sale that is not paused changes nothing. */
export async function resumeSale(ctx: InventoryContext, reconciler: Reconciler, saleId: string): Promise<ResumeResult> {
  const current = await ctx.sales.get(saleId)
  if (!current) return { outcome: 'unknown_sale' }
  if (current.state === 'closed') return { outcome: 'closed' }
  if (current.state !== 'paused') return { outcome: 'resumed', sale: current, rebuild: { status: 'not_paused' } }
  const target = stateForTime({ ...current, state: 'scheduled' }, ctx.clock.now())
  const sale = (await ctx.sales.setState(saleId, ['paused'], target)) ?? (await ctx.sales.get(saleId)) ?? current
  // Warm the gate from Postgres on resume: whatever drifted while paused starts from the truth.
  const rebuild = await reconciler.rebuildSale(saleId)
  return { outcome: 'resumed', sale, rebuild }
}

async function refreshGate(ctx: InventoryContext, sale: Sale): Promise<GateState | 'pending'> {
  try {
    return await ctx.gate.refresh(sale, ctx.clock.now())
  } catch (err) {
    ctx.log.warn({ err, saleId: sale.id }, 'sale changed but the gate could not be told; the reconciler will copy it')
    return 'pending'
  }
}

export interface SaleView {
  readonly sale: Omit<Sale, 'createdAt' | 'updatedAt'>
  /** open / not_open / closed / paused by the clock and state; unavailable while the gate is missing or rebuilding. */
  readonly status: GateStatus | 'unavailable'
  /** Units the gate can still hand out, read from Redis: approximate (it moves with every reservation). */
  readonly approximateAvailable: number | null
}

/** The public view: from the gate in Redis (no Postgres on the hot read), else from a replica. */
export async function describeSale(ctx: InventoryContext, saleId: string): Promise<SaleView | null> {
  const now = ctx.clock.now()
  try {
    const view = await ctx.gate.view(saleId)
    if (view.state === 'ready' && view.sale) {
      return { sale: view.sale, status: gateStatus(view.sale, now), approximateAvailable: view.available ?? null }
    }
  } catch (err) {
    ctx.log.warn({ err, saleId }, 'gate unreadable; describing the sale from Postgres')
  }
  const sale = await ctx.sales.readSale(saleId)
  if (!sale) return null
  return { sale, status: 'unavailable', approximateAvailable: null }
}
