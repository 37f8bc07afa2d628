/**
 * The order API's own metrics, beside the HTTP and process ones every service has: what became of each
 * order placement, and how long the durable enqueue took (the step that decides between 202 and 503).
 */
import { Counter, Histogram, type Registry } from 'prom-client'
import type { PlaceOrderResult } from './domain/place-order.ts'

export function createOrderApiMetrics(registry: Registry) {
  const placements = new Counter({
    name: 'order_placements_total',
    help: 'POST /orders outcomes: accepted, a refusal reason of the stock gate (sold_out, limit_reached, not_open, closed, paused, unknown_sale), no_sale, key_reused, in_progress, gate_unavailable, queue_unavailable, idempotency_unavailable; replayed=true for an Idempotency-Key answered again',
    labelNames: ['outcome', 'replayed'] as const,
    registers: [registry],
  })
  const enqueue = new Histogram({
    name: 'order_enqueue_duration_seconds',
    help: 'time to get orders.requested acknowledged by Kafka (acks=all), by outcome (ok, failed: the order is refused 503 unless the gate says it landed)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  return {
    placed(result: PlaceOrderResult): void {
      const outcome = result.kind === 'refused' ? result.reason : result.kind
      const replayed = 'replayed' in result && result.replayed ? 'true' : 'false'
      placements.inc({ outcome, replayed })
    },
    enqueued(ms: number, ok: boolean): void {
      enqueue.observe({ outcome: ok ? 'ok' : 'failed' }, ms / 1000)
    },
  }
}
export type OrderApiMetrics = ReturnType<typeof createOrderApiMetrics>
