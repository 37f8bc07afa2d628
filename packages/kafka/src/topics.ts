/**
 * Every topic of the system, defined once: the native stack, docker-compose and (later) a Strimzi
 * KafkaTopic manifest all derive from this list. Partition counts bound consumer parallelism; the
 * replication factor is 1 on the one-broker dev stack and comes from KAFKA_REPLICATION_FACTOR elsewhere.
 */
export interface TopicDefinition {
  readonly name: string
  readonly partitions: number
  /** Topic-level configs passed as-is to the broker. */
  readonly config: Readonly<Record<string, string>>
  readonly description: string
}

export const TOPICS = {
  ordersRequested: {
    name: 'orders.requested',
    partitions: 12,
    config: { 'retention.ms': String(7 * 24 * 3600_000), 'min.insync.replicas': '1' },
    description: 'an accepted order (202) waiting to be persisted by the order worker',
  },
  ordersEvents: {
    name: 'orders.events',
    partitions: 12,
    config: { 'retention.ms': String(7 * 24 * 3600_000) },
    description: 'order status changes (confirmed, rejected, cancelled, paid) for read models',
  },
  ordersDlq: {
    name: 'orders.dlq',
    partitions: 3,
    // The DLQ is the record of last resort for a 202 we could not persist: keep it until handled.
    config: { 'retention.ms': '-1' },
    description: 'orders.requested messages that failed N times or could not be processed, with the reason',
  },
} as const satisfies Record<string, TopicDefinition>

export const ALL_TOPICS: readonly TopicDefinition[] = Object.values(TOPICS)
