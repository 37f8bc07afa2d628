/**
 * The reconciler: Postgres is the truth, Redis the fast gate; this keeps the gate honest.
 * Each pass, for every sale that is not closed:
 *   1. move the state with the clock (scheduled → active at the start, → closed at the end)
 *   2. copy the sale's definition into the gate; a gate whose state is gone (Redis flushed or restarted
 *      empty) is rebuilt from Postgres — the gate refuses (503) until then
 *   3. release reservations that expired without ever being claimed by the order worker
 *   4. compare: expected available = total − sold (Postgres) − units of reservations not yet persisted;
 *      export the drift; repair it only when the sale is paused or quiet (see reconcile.lua for why)
 *
 * Rebuild: close the gate (it answers 503), read Postgres, set the whole gate state in one script, reopen.
 * The gate's surviving reservations are kept; after a real loss there are none, and orders still in
 * flight are settled by Postgres when the worker commits them (commit_units refuses any excess).
 */
import { randomUUID } from 'node:crypto'
import { startLoop, type Loop } from '@flashsale/resilience'
import type { InventoryContext } from './ports.ts'
import { stateForTime, type Sale, type SaleState } from './sale.ts'

export interface SaleReconciliation {
  readonly saleId: string
  readonly action: 'reconciled' | 'rebuilt' | 'rebuilding' | 'failed'
  readonly state: SaleState
  readonly transitioned?: { readonly from: SaleState; readonly to: SaleState }
  readonly expired: number
  readonly available?: number
  readonly expected?: number
  readonly drift?: number
  readonly uncommitted?: number
  readonly committed?: number
  readonly repaired?: boolean
  readonly error?: string
}

export type RebuildResult =
  | {
      readonly status: 'rebuilt'
      readonly available: number
      readonly uncommitted: number
      readonly committed: number
      readonly sold: number
      readonly total: number
    }
  | { readonly status: 'in_progress' | 'superseded' | 'unknown_sale' }

export interface Reconciler {
  /** One pass over every sale that is not closed; a failing sale does not stop the others. */
  runOnce(): Promise<SaleReconciliation[]>
  reconcileSale(sale: Sale): Promise<SaleReconciliation>
  /** Rebuilds the sale's gate from Postgres; `force` takes over a rebuild that looks alive. */
  rebuildSale(saleId: string, options?: { force?: boolean }): Promise<RebuildResult>
  /** Rebuilds every open sale's gate (the Redis server changed); throws if one could not be rebuilt. */
  rebuildOpen(): Promise<void>
}

export function createReconciler(ctx: InventoryContext): Reconciler {
  const { sales, gate, metrics, clock, settings, soldOut } = ctx
  let watched = new Set<string>()

  async function rebuildSale(saleId: string, { force = false } = {}): Promise<RebuildResult> {
    const token = randomUUID()
    const begun = await gate.beginRebuild(saleId, token, clock.now(), settings.rebuildStaleMs, force)
    if (begun.status === 'in_progress') return { status: 'in_progress' }
    try {
      // Read Postgres only after the gate is shut, so nothing reserves against what we are about to replace.
      const sale = await sales.get(saleId)
      const ledger = await sales.stock(saleId)
      if (!sale || !ledger) {
        await gate.abortRebuild(saleId, token)
        return { status: 'unknown_sale' }
      }
      const userUnits = await sales.userUnits(saleId)
      const loaded = await gate.load({ sale, ledger, userUnits, token, seqA: begun.seq, now: clock.now() })
      if (loaded.status !== 'loaded') return { status: 'superseded' }
      soldOut.forget(saleId)
      metrics.rebuilt(saleId)
      ctx.log.info({ saleId, ...loaded, sold: ledger.sold, total: ledger.total }, 'stock gate rebuilt from Postgres')
      return {
        status: 'rebuilt',
        available: loaded.available,
        uncommitted: loaded.uncommitted,
        committed: loaded.committed,
        sold: ledger.sold,
        total: ledger.total,
      }
    } catch (err) {
      // Reopen only if still ours; a lost state stays shut ('missing') whatever happens here.
      await gate.abortRebuild(saleId, token).catch(() => {})
      throw err
    }
  }

  async function reconcileSale(found: Sale): Promise<SaleReconciliation> {
    let sale = found
    let transitioned: SaleReconciliation['transitioned']
    const next = stateForTime(sale, clock.now())
    if (next !== sale.state) {
      const moved = await sales.setState(sale.id, [sale.state], next)
      if (moved) transitioned = { from: sale.state, to: next }
      sale = moved ?? (await sales.get(sale.id)) ?? sale
    }

    const gateState = await gate.refresh(sale, clock.now())
    if (gateState !== 'ready') {
      const rebuilt = await rebuildSale(sale.id)
      return {
        saleId: sale.id,
        action: rebuilt.status === 'rebuilt' ? 'rebuilt' : 'rebuilding',
        state: sale.state,
        expired: 0,
        ...(transitioned ? { transitioned } : {}),
        ...(rebuilt.status === 'rebuilt' ? { available: rebuilt.available } : {}),
      }
    }

    const expired = await gate.expire(sale.id, clock.now(), settings.expireBatch)
    if (expired.length > 0) {
      metrics.reservationsExpired(sale.id, expired.length)
      soldOut.forget(sale.id)
    }

    // The order matters: the gate's seq is read before Postgres, so a reservation the worker persists in
    // between is counted as not-yet-persisted AND maybe as sold — an error toward fewer units, never more.
    const seqA = await gate.seq(sale.id)
    const ledger = await sales.stock(sale.id)
    if (!ledger) throw new Error(`sale ${sale.id} has no stock ledger row`)
    const r = await gate.reconcile({ saleId: sale.id, seqA, now: clock.now(), ledger, quietMs: settings.quietMs, repair: true })
    if (r.status !== 'ok') return { saleId: sale.id, action: 'rebuilding', state: sale.state, expired: expired.length }

    const available = r.repaired ? Math.max(0, r.expected) : r.available
    metrics.stockObserved(sale.id, { available, drift: r.repaired ? 0 : r.drift, uncommitted: r.uncommitted, committed: r.committed, ledger })
    if (r.repaired) {
      metrics.driftRepaired(sale.id)
      ctx.log.warn({ saleId: sale.id, drift: r.drift, from: r.available, to: available }, 'stock drift repaired')
    }
    if (available > 0) soldOut.forget(sale.id)
    return {
      saleId: sale.id,
      action: 'reconciled',
      state: sale.state,
      expired: expired.length,
      available,
      expected: r.expected,
      drift: r.drift,
      uncommitted: r.uncommitted,
      committed: r.committed,
      repaired: r.repaired,
      ...(transitioned ? { transitioned } : {}),
    }
  }

  return {
    rebuildSale,
    reconcileSale,
    async rebuildOpen() {
      metrics.redisServerChanged()
      const failed: string[] = []
      for (const sale of await sales.listOpen()) {
        // in_progress: another instance is rebuilding it; its gate is shut until that one finishes.
        const r = await rebuildSale(sale.id).catch(
          (err: unknown) => (ctx.log.error({ err, saleId: sale.id }, 'rebuild after a Redis server change failed'), undefined),
        )
        if (r === undefined) failed.push(sale.id)
      }
      if (failed.length > 0) throw new Error(`could not rebuild the gates of ${failed.join(', ')}`)
    },

    async runOnce() {
      const open = await sales.listOpen()
      const results: SaleReconciliation[] = []
      for (const sale of open) {
        try {
          results.push(await reconcileSale(sale))
        } catch (err) {
          metrics.reconcileFailed(sale.id)
          ctx.log.error({ err, saleId: sale.id }, 'reconciling a sale failed')
          results.push({ saleId: sale.id, action: 'failed', state: sale.state, expired: 0, error: err instanceof Error ? err.message : String(err) })
        }
      }
      // Closed sales leave the pass; their per-sale gauges go with them.
      const now = new Set(open.map((s) => s.id))
      for (const id of watched) if (!now.has(id)) metrics.forgetSale(id)
      watched = now
      return results
    },
  }
}

/** The reconciler, a pass at once (after a restart, ours or Redis's, the gates are checked without waiting) and every `intervalMs` after. */
export function startReconcilerLoop(reconciler: Reconciler, { intervalMs, onError }: { intervalMs: number; onError: (err: unknown) => void }): Loop {
  return startLoop(() => reconciler.runOnce(), { intervalMs, onError })
}
