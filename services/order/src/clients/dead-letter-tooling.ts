/** Wires the DLQ use cases (domain/dead-letters.ts) to Kafka and Postgres, for the CLI, the API and the worker's DLQ-depth metric. */
import type { Database } from '@flashsale/db'
import { parseDeadLetter, type KafkaClient, type Producer } from '@flashsale/kafka'
import { createDeadLetterReader } from './dlq-reader.ts'
import { deadLetterDepth, type DeadLetterDeps } from '../domain/dead-letters.ts'
import type { ReservationSteps } from '../domain/ports.ts'
import { createDeadLetterHandledStore } from '../store/dlq-store.ts'

export interface DeadLetterTooling extends DeadLetterDeps {
  /** Dead letters not yet handled (topic size − handled), without reading the messages. */
  depth(): Promise<number>
}

export function createDeadLetterTooling({
  kafka,
  producer,
  db,
  dlqTopic,
  requestedTopic,
  gate,
}: {
  kafka: KafkaClient
  producer: Producer
  db: Database
  dlqTopic: string
  requestedTopic: string
  /** Admin gate steps (service token): a discard then releases the order's reservation if it was never persisted. */
  gate?: Pick<ReservationSteps, 'release'>
}): DeadLetterTooling {
  const reader = createDeadLetterReader(kafka, dlqTopic)
  const store = createDeadLetterHandledStore(db)
  return {
    topic: dlqTopic,
    read: () => reader.readAll(),
    parse: parseDeadLetter,
    handled: store.handled,
    requeue: ({ key, value, headers }) => producer.send(requestedTopic, [{ ...(key === null ? {} : { key }), value, headers }]),
    ...(gate
      ? {
          async abandon(value: Buffer) {
            let orderId: unknown
            try {
              orderId = (JSON.parse(value.toString('utf8')) as { orderId?: unknown }).orderId
            } catch {
              return // not an order: nothing was reserved for it
            }
            if (typeof orderId !== 'string' || !/^[0-9a-f-]{36}$/i.test(orderId)) return
            // Persisted (a replay got through): its units are Postgres' now; releasing them would let the gate oversell.
            if ((await db.query('SELECT 1 FROM orders.orders WHERE id = $1', [orderId])).rowCount) return
            // Idempotent (tombstone); a later replay of this order finds it released and rejects it.
            await gate.release([orderId])
          },
        }
      : {}),
    async depth() {
      const [size, handled] = await Promise.all([reader.size(), store.count(dlqTopic)])
      return deadLetterDepth(size, handled)
    },
  }
}

/** The tooling as the order API's config has it: its topics, and the gate steps when it holds a service token. */
export function deadLetterToolingFor(
  config: { readonly ORDERS_DLQ_TOPIC: string; readonly ORDERS_REQUESTED_TOPIC: string; readonly INVENTORY_SERVICE_TOKEN: string },
  {
    kafka,
    producer,
    db,
    inventory,
  }: { kafka: KafkaClient; producer: Producer; db: Database; inventory: { reservationSteps(token: string): ReservationSteps } },
): DeadLetterTooling {
  const gate = config.INVENTORY_SERVICE_TOKEN ? { gate: inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN) } : {}
  return createDeadLetterTooling({ kafka, producer, db, dlqTopic: config.ORDERS_DLQ_TOPIC, requestedTopic: config.ORDERS_REQUESTED_TOPIC, ...gate })
}
