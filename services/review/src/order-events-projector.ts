/**
 * The verified-buyer projector: consumes orders.events (OrderStatusChangedV1) in its own consumer group
 * and applies each partition's batch in one transaction. Offsets are committed only after the batch is
 * applied (at-least-once); the upsert keyed by order id makes a redelivery a no-op. Started by
 * src/projector.ts as its own process, and in-process by the tests.
 */
import { InvalidEventError, OrderStatusChangedV1, parseEvent, type KafkaClient } from '@flashsale/kafka'
import { Counter, Gauge, type Registry } from '@flashsale/metrics'
import type { Log } from '@flashsale/logging'
import type { PurchaseRepository } from './domain/ports.ts'
import { toPurchase } from './domain/project-order-events.ts'
import type { Purchase } from './domain/review.ts'

export interface ProjectorOptions {
  readonly kafka: KafkaClient
  readonly purchases: PurchaseRepository
  readonly topic: string
  readonly groupId: string
  readonly registry: Registry
  readonly log: Pick<Log, 'warn' | 'info'>
  /** How often the consumer group's lag is measured for review_projector_lag_messages; 0 = never (tests). */
  readonly lagIntervalMs?: number
}

export interface Projector {
  close(): Promise<void>
}

export async function startOrderEventsProjector({ kafka, purchases, topic, groupId, registry, log, lagIntervalMs = 0 }: ProjectorOptions): Promise<Projector> {
  const events = new Counter({
    name: 'review_projector_events_total',
    help: 'orders.events messages seen by the verified-buyer projector, by outcome (applied: changed a row; unchanged: a redelivery or a non-transition; invalid: skipped, not the contract)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const consumer = await kafka.createConsumer({ groupId, topics: [topic], fromBeginning: true })
  await consumer.run(async (batch) => {
    const found: Purchase[] = []
    for (const msg of batch.messages) {
      try {
        found.push(toPurchase(parseEvent(OrderStatusChangedV1, msg.value)))
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err
        // A retry cannot fix a payload; the order service's contract tests own it. Skip, count, log.
        events.inc({ outcome: 'invalid' })
        log.warn({ err, topic: batch.topic, partition: batch.partition, offset: msg.offset }, 'orders.events message skipped: not an order.status-changed v1')
      }
    }
    const changed = await purchases.apply(found)
    events.inc({ outcome: 'applied' }, changed)
    events.inc({ outcome: 'unchanged' }, found.length - changed)
  })
  log.info({ topic, groupId }, 'verified-buyer projector consuming')

  // How far the read model is behind orders.events: a buyer whose order is that far back still gets 403.
  const lag = new Gauge({
    name: 'review_projector_lag_messages',
    help: 'orders.events messages not yet applied by the verified-buyer projector (sum over partitions)',
    registers: lagIntervalMs > 0 ? [registry] : [],
  })
  const lagTimer =
    lagIntervalMs > 0
      ? setInterval(() => {
          kafka
            .consumerLag(groupId, topic)
            .then((byPartition) => lag.set([...byPartition.values()].reduce((a, b) => a + b, 0)))
            .catch((err: unknown) => log.warn({ err }, 'consumer lag unavailable'))
        }, lagIntervalMs).unref()
      : undefined
  return {
    close: async () => {
      clearInterval(lagTimer)
      await consumer.close()
    },
  }
}
