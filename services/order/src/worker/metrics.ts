/**
 * The worker's metrics (README: Metrics), on the registry its /metrics serves. Gauges that need a broker
 * or database round trip are read on scrape; a failed read leaves the previous value and counts in
 * order_worker_metric_read_failures_total, so /metrics itself never fails.
 */
import { Counter, Gauge, Histogram, type Registry } from '@flashsale/metrics'
import type { Batch, KafkaClient } from '@flashsale/kafka'

export interface WorkerMetricsOptions {
  readonly registry: Registry
  readonly kafka: KafkaClient
  readonly groupId: string
  readonly topic: string
  /** Unhandled dead letters (DeadLetterTooling.depth). */
  readonly dlqDepth: () => Promise<number>
  readonly now?: () => number
}

export interface WorkerMetrics {
  /** Wraps the batch handler: batch size, processed messages, and the oldest message in flight. */
  track(handle: (batch: Batch) => Promise<void>): (batch: Batch) => Promise<void>
  readonly persisted: Counter<'status'>
  readonly deadLettered: Counter<'error_class'>
  readonly retries: Counter<'reason'>
  readonly swept: Counter<'outcome'>
}

export function createWorkerMetrics({ registry, kafka, groupId, topic, dlqDepth, now = Date.now }: WorkerMetricsOptions): WorkerMetrics {
  const registers = [registry]
  const readFailures = new Counter({
    name: 'order_worker_metric_read_failures_total',
    help: 'Scrape-time reads (lag, DLQ depth) that failed',
    labelNames: ['metric'] as const,
    registers,
  })
  const batchSize = new Histogram({
    name: 'order_worker_batch_size',
    help: 'Messages per batch handled',
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000],
    registers,
  })
  const messages = new Counter({
    name: 'order_worker_messages_total',
    help: 'orders.requested messages handled (persisted or dead-lettered); rate() is the processing rate',
    labelNames: ['partition'] as const,
    registers,
  })
  const persisted = new Counter({ name: 'order_worker_orders_total', help: 'Orders persisted by outcome', labelNames: ['status'] as const, registers })
  const deadLettered = new Counter({
    name: 'order_worker_dead_lettered_total',
    help: 'Messages sent to the DLQ, by error class',
    labelNames: ['error_class'] as const,
    registers,
  })
  const retries = new Counter({
    name: 'order_worker_batch_retries_total',
    help: 'Batch retries, by reason (outage: a dependency is down; transient)',
    labelNames: ['reason'] as const,
    registers,
  })
  const swept = new Counter({
    name: 'order_sweeper_orders_total',
    help: 'Orders handled by the payment-timeout sweeper (cancelled; followed_up: an unfinished follow-up finished)',
    labelNames: ['outcome'] as const,
    registers,
  })

  // Oldest message of each partition's batch in flight (ms since the epoch); a stalled batch (retrying
  // through an outage) makes this grow while the consumer cannot move on.
  const inFlight = new Map<number, number>()

  new Gauge({
    name: 'order_worker_consumer_lag_messages',
    help: 'orders.requested messages not yet committed by the worker group, per partition',
    labelNames: ['partition'] as const,
    registers,
    async collect() {
      try {
        const lag = await kafka.consumerLag(groupId, topic)
        this.reset()
        for (const [partition, n] of lag) this.set({ partition: String(partition) }, n)
      } catch {
        readFailures.inc({ metric: 'consumer_lag' })
      }
    },
  })
  new Gauge({
    name: 'order_worker_oldest_unprocessed_age_seconds',
    help: 'Age of the oldest orders.requested message in a batch being processed (0 when idle)',
    registers,
    collect() {
      const oldest = Math.min(...inFlight.values())
      this.set(Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0)
    },
  })
  new Gauge({
    name: 'order_dlq_depth_messages',
    help: 'Dead letters in orders.dlq not yet replayed or discarded (alert when > 0)',
    registers,
    async collect() {
      try {
        this.set(await dlqDepth())
      } catch {
        readFailures.inc({ metric: 'dlq_depth' })
      }
    },
  })

  return {
    track: (handle) => async (batch) => {
      if (batch.messages.length === 0) return handle(batch)
      inFlight.set(batch.partition, Math.min(...batch.messages.map((m) => m.timestamp)))
      try {
        await handle(batch)
        batchSize.observe(batch.messages.length)
        messages.inc({ partition: String(batch.partition) }, batch.messages.length)
      } finally {
        inFlight.delete(batch.partition)
      }
    },
    persisted,
    deadLettered,
    retries,
    swept,
  }
}
