/**
 * Our own small Kafka interface: services depend on these types only, so a move to another client
 * (@confluentinc/kafka-javascript, @platformatic/kafka) touches the implementation files alone
 * (docs/adr/0003-kafka-client-behind-an-interface.md).
 */
import type { TopicDefinition } from './topics.ts'

export interface OutgoingMessage {
  readonly key?: string
  readonly value: string | Buffer
  readonly headers?: Readonly<Record<string, string>>
}

export interface IncomingMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  readonly key: string | null
  readonly value: Buffer
  readonly headers: Readonly<Record<string, string>>
  /** Broker or producer timestamp, ms since the epoch. */
  readonly timestamp: number
}

export interface Producer {
  /**
   * Resolves only when every message is acknowledged by all in-sync replicas (acks=all). Rejects after
   * 8 retries (at most 1 s apart, about 8 s of backoff plus each attempt's own timeout) or at once on an error retrying
   * cannot fix (a record over the topic's max.message.bytes); a rejection means
   * "outcome unknown": the messages may or may not have been written. One produce request is in flight at
   * a time, in call order; sends made meanwhile go out together in the next one (group commit), and the
   * producer behind them is replaced after a failed request (see wrapProducer).
   */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>
  /** Waits for queued sends, then disconnects; later sends reject. */
  close(): Promise<void>
}

/** A batch from one partition, in offset order. */
export interface Batch {
  readonly topic: string
  readonly partition: number
  readonly messages: readonly IncomingMessage[]
  /** Offset of the newest message in the partition, for lag. */
  readonly highWatermark: string
}

export interface Consumer {
  /**
   * Starts consuming. `handle` gets one partition's batch at a time; offsets are committed only after
   * it resolves, so a crash mid-batch redelivers the whole batch (handlers must be idempotent). If it
   * throws (whatever it throws), nothing is committed and the batch is fetched again after the client's
   * retry backoff. While `handle` runs the consumer keeps heartbeating, so a slow batch does not cost
   * the member its partitions; a batch that finishes while close() waits for it is still committed.
   */
  run(handle: (batch: Batch) => Promise<void>): Promise<void>
  close(): Promise<void>
}

export interface KafkaLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface KafkaOptions {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly logger?: KafkaLogger
  /** Broker connection timeout; loopback brokers answer in milliseconds. */
  readonly connectionTimeoutMs?: number
}

export interface KafkaClient {
  createProducer(): Promise<Producer>
  createConsumer(options: ConsumerOptions): Promise<Consumer>
  /** Creates missing topics and grows partition counts; returns what it changed. */
  ensureTopics(topics: readonly TopicDefinition[], replicationFactor?: number): Promise<string[]>
  deleteTopics(names: readonly string[]): Promise<void>
  /** Committed offset lag per partition for a group: high watermark - committed offset. */
  consumerLag(groupId: string, topic: string): Promise<Map<number, number>>
}

export interface ConsumerOptions {
  readonly groupId: string
  readonly topics: readonly string[]
  /** Where a new group starts: the earliest retained message (true) or only new ones. */
  readonly fromBeginning?: boolean
  readonly sessionTimeoutMs?: number
  readonly maxBytesPerPartition?: number
}
