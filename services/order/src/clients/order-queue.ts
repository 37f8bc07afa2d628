/**
 * orders.requested over the shared Kafka producer (idempotent, acks=all), with a latency budget: a buyer
 * waits at most `timeoutMs` for the queue; past it the send counts as failed — though it may still land,
 * which is why the caller then asks the stock gate who wins (see place-order.ts).
 */
import { TOPICS, eventHeaders, type OrderRequested, type Producer } from '@flashsale/kafka'
import { withTimeout } from '@flashsale/resilience'
import type { OrderQueue } from '../domain/ports.ts'

export interface OrderQueueOptions {
  readonly timeoutMs: number
  readonly topic?: string
  /** Called once per enqueue with its duration and whether it was acknowledged in time. */
  readonly onEnqueued?: (ms: number, ok: boolean) => void
}

export function createOrderQueue(producer: Producer, { timeoutMs, topic = TOPICS.ordersRequested.name, onEnqueued }: OrderQueueOptions): OrderQueue {
  return {
    async enqueue(event: OrderRequested) {
      const started = performance.now()
      let ok = false
      try {
        // Keyed by order id: a hot SKU's orders spread over every partition (docs/adr: partition key).
        await withTimeout(() => producer.send(topic, [{ key: event.orderId, value: JSON.stringify(event), headers: eventHeaders(event) }]), timeoutMs)
        ok = true
      } finally {
        onEnqueued?.(performance.now() - started, ok)
      }
    },
  }
}
