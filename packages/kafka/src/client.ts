/**
 * Our own small Kafka interface, implemented over kafkajs. Services depend on these types only, so a
 * move to @confluentinc/kafka-javascript or @platformatic/kafka touches this file alone
 * (docs/adr/0003-kafka-client-behind-an-interface.md).
 */
import { Kafka, Partitioners, logLevel, type Admin, type Consumer as KafkaConsumer, type Producer as KafkaProducer, type IHeaders, type LogEntry } from 'kafkajs'
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
  /** Resolves only when every message is acknowledged by all in-sync replicas (acks=all). */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>
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
   * throws, nothing is committed and the batch is fetched again after the client's restart backoff.
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

export function createKafka(options: KafkaOptions): KafkaClient {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => forwardLog(options.logger, entry),
    retry: { initialRetryTime: 100, retries: 8 },
  })

  const withAdmin = async <T>(fn: (admin: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      return await fn(admin)
    } finally {
      await admin.disconnect()
    }
  }

  return {
    async createProducer() {
      // Idempotent producer: the broker drops duplicates from client retries, per partition. It implies
      // acks=all and at most 5 in-flight requests (kafkajs enforces 1 with idempotence).
      const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      return wrapProducer(producer)
    },

    async createConsumer(opts) {
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
        heartbeatInterval: 1_000,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 1_048_576,
        retry: { initialRetryTime: 100, retries: 8 },
      })
      await consumer.connect()
      for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? false })
      return wrapConsumer(consumer)
    },

    ensureTopics: (topics, replicationFactor = 1) =>
      withAdmin(async (admin) => {
        const changed: string[] = []
        const existing = new Set(await admin.listTopics())
        const missing = topics.filter((t) => !existing.has(t.name))
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((t) => ({
              topic: t.name,
              numPartitions: t.partitions,
              replicationFactor,
              configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
            })),
          })
          changed.push(...missing.map((t) => `created ${t.name} (${t.partitions} partitions)`))
        }
        const present = topics.filter((t) => existing.has(t.name))
        if (present.length > 0) {
          const { topics: meta } = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) })
          // Partitions can only grow; shrinking would reshuffle keys. Fewer than defined → grow to the definition.
          const grow = present.filter((t) => (meta.find((m) => m.name === t.name)?.partitions.length ?? 0) < t.partitions)
          if (grow.length > 0) {
            await admin.createPartitions({ topicPartitions: grow.map((t) => ({ topic: t.name, count: t.partitions })) })
            changed.push(...grow.map((t) => `grew ${t.name} to ${t.partitions} partitions`))
          }
        }
        return changed
      }),

    deleteTopics: (names) =>
      withAdmin(async (admin) => {
        const existing = new Set(await admin.listTopics())
        const topics = names.filter((n) => existing.has(n))
        if (topics.length > 0) await admin.deleteTopics({ topics })
      }),

    consumerLag: (groupId, topic) =>
      withAdmin(async (admin) => {
        const [high, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
        const lag = new Map<number, number>()
        const done = committed[0]?.partitions ?? []
        for (const p of high) {
          const c = done.find((d) => d.partition === p.partition)
          // -1 means "nothing committed yet": everything from the low watermark is lag.
          const from = c && c.offset !== '-1' ? Number(c.offset) : Number(p.low)
          lag.set(p.partition, Math.max(0, Number(p.high) - from))
        }
        return lag
      }),
  }
}

function wrapProducer(producer: KafkaProducer): Producer {
  return {
    async send(topic, messages) {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key ?? null, value: m.value, headers: m.headers ? { ...m.headers } : {} })),
      })
    },
    close: () => producer.disconnect(),
  }
}

function wrapConsumer(consumer: KafkaConsumer): Consumer {
  return {
    async run(handle) {
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return
          await handle({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            messages: batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key ? m.key.toString('utf8') : null,
              value: m.value ?? Buffer.alloc(0),
              headers: decodeHeaders(m.headers),
              timestamp: Number(m.timestamp),
            })),
          })
          const last = batch.messages[batch.messages.length - 1]
          if (!last) return
          resolveOffset(last.offset)
          // Manual commit (autoCommit is off): the committed offset is the next one to read.
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }])
          await heartbeat()
        },
      })
    },
    close: () => consumer.disconnect(),
  }
}

export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue
    const first = Array.isArray(v) ? v[0] : v
    if (first !== undefined) out[k] = first.toString()
  }
  return out
}

function forwardLog(logger: KafkaLogger | undefined, entry: LogEntry): void {
  const { message, ...rest } = entry.log
  const obj = { kafka: entry.namespace, ...rest }
  if (!logger) {
    if (entry.level <= logLevel.WARN) console.warn(`[kafkajs] ${entry.namespace}: ${message}`)
    return
  }
  if (entry.level === logLevel.ERROR) logger.error(obj, message)
  else if (entry.level === logLevel.WARN) logger.warn(obj, message)
  else if (entry.level === logLevel.INFO) logger.info(obj, message)
  else logger.debug(obj, message)
}
