/**
 * The inventory service's metrics, on the process registry of @flashsale/metrics. Per-sale labels are
 * bounded: sales are created by admins, and a sale leaves the gauges when it closes.
 */
import { Counter, Gauge, type Registry } from '@flashsale/metrics'
import type { InventoryMetrics } from './domain/ports.ts'

export function createInventoryMetrics(registry: Registry): InventoryMetrics {
  const registers = [registry]
  const gateOutcomes = new Counter({
    name: 'inventory_gate_outcomes_total',
    help: 'Answers of the stock gate by outcome (reserved, duplicate, sold_out, limit_reached, not_open, closed, paused, unknown_sale, conflict, unavailable)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const throttled = new Counter({
    name: 'inventory_hot_sale_throttled_total',
    help: 'Reserve attempts refused with 429 by the per-sale hot-parameter limiter, before Redis',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const shortCircuit = new Counter({
    name: 'inventory_sold_out_short_circuit_total',
    help: 'Reserve attempts answered sold_out from memory without touching Redis',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const available = new Gauge({
    name: 'inventory_stock_available_units',
    help: 'Units the gate could still hand out, at the last reconciler pass',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const drift = new Gauge({
    name: 'inventory_stock_drift_units',
    help: 'Gate available minus expected (total - sold - unpersisted reservations) at the last reconciler pass; > 0 would over-admit, < 0 under-sells',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const active = new Gauge({
    name: 'inventory_active_reservations_units',
    help: 'Units held by live reservations at the last reconciler pass; stage unpersisted = not yet in Postgres, persisted = pending payment or paid',
    labelNames: ['sale_id', 'stage'] as const,
    registers,
  })
  const ledger = new Gauge({
    name: 'inventory_ledger_units',
    help: "The sale's stock ledger in PostgreSQL at the last reconciler pass: kind total (the sale's units) and sold (units of persisted orders not cancelled); sold > total would be an oversell",
    labelNames: ['sale_id', 'kind'] as const,
    registers,
  })
  const repairs = new Counter({
    name: 'inventory_stock_drift_repairs_total',
    help: 'Drift repairs by the reconciler',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const rebuilds = new Counter({ name: 'inventory_gate_rebuilds_total', help: 'Gate rebuilds from Postgres', labelNames: ['sale_id'] as const, registers })
  const expired = new Counter({
    name: 'inventory_reservations_expired_total',
    help: 'Reservations released by the reconciler because their TTL passed before the order worker claimed them',
    labelNames: ['sale_id'] as const,
    registers,
  })
  const serverChanges = new Counter({
    name: 'inventory_redis_server_changes_total',
    help: 'Times the Redis server holding the gate changed (failover or restart); each rebuilds every open gate from Postgres',
    registers,
  })
  const failures = new Counter({
    name: 'inventory_reconcile_failures_total',
    help: 'Reconciler passes that failed for a sale',
    labelNames: ['sale_id'] as const,
    registers,
  })

  return {
    gateOutcome: (outcome) => gateOutcomes.inc({ outcome }),
    hotSaleThrottled: (saleId) => throttled.inc({ sale_id: saleId }),
    soldOutShortCircuit: (saleId) => shortCircuit.inc({ sale_id: saleId }),
    stockObserved(saleId, o) {
      available.set({ sale_id: saleId }, o.available)
      drift.set({ sale_id: saleId }, o.drift)
      active.set({ sale_id: saleId, stage: 'unpersisted' }, o.uncommitted)
      active.set({ sale_id: saleId, stage: 'persisted' }, o.committed)
      ledger.set({ sale_id: saleId, kind: 'total' }, o.ledger.total)
      ledger.set({ sale_id: saleId, kind: 'sold' }, o.ledger.sold)
    },
    driftRepaired: (saleId) => repairs.inc({ sale_id: saleId }),
    rebuilt: (saleId) => rebuilds.inc({ sale_id: saleId }),
    redisServerChanged: () => serverChanges.inc(),
    reservationsExpired: (saleId, count) => expired.inc({ sale_id: saleId }, count),
    reconcileFailed: (saleId) => failures.inc({ sale_id: saleId }),
    forgetSale(saleId) {
      for (const g of [available, drift]) g.remove({ sale_id: saleId })
      active.remove({ sale_id: saleId, stage: 'unpersisted' })
      active.remove({ sale_id: saleId, stage: 'persisted' })
      ledger.remove({ sale_id: saleId, kind: 'total' })
      ledger.remove({ sale_id: saleId, kind: 'sold' })
    },
  }
}
