/**
 * Our own small Kafka interface, implemented over kafkajs. Services depend on these types only, so a
 * move to @confluentinc/kafka-javascript or @platformatic/kafka touches this file alone
 * (docs/adr/0003-kafka-client-behind-an-interface.md).
 */
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer as KafkaConsumer,
  type Producer as KafkaProducer,
  type IHeaders,
  type LogEntry,
} from 'kafkajs'
import { fullJitterDelay, sleep } from '@flashsale/resilience'
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
      // acks=all; kafkajs serialises idempotent produce requests per broker with a lock
      // (kafkajs/src/producer/sendMessages.js, eosManager.acquireBrokerLock). DefaultPartitioner is the
      // Java-compatible murmur2 one, so a key lands on the same partition whichever client produced it.
      // Retries are bounded explicitly (kafkajs's own default for an idempotent producer is unbounded), so
      // a send to a dead broker fails and the order API can answer 503; wrapProducer makes the bound safe.
      // maxRetryTime 1 s (kafkajs's default is 30 s): while the broker is down a send keeps retrying, and
      // with one request in flight the sends behind it wait for it; waits that grew to 10-30 s kept the
      // order API refusing orders that long after the broker was back (make chaos-kafka). Capped, a send
      // gives up after about 8 s and the next request finds a returned broker within a second.
      const make = () =>
        kafka.producer({
          idempotent: true,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 8 },
        })
      const producer = make()
      await producer.connect()
      return wrapProducer(producer, make)
    },

    async createConsumer(opts) {
      const heartbeatIntervalMs = 1_000
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
        heartbeatInterval: heartbeatIntervalMs,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 1_048_576,
        retry: { initialRetryTime: 100, retries: 8 },
      })
      await consumer.connect()
      for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? false })
      return wrapConsumer(consumer, heartbeatIntervalMs)
    },

    ensureTopics: (topics, replicationFactor = 1) =>
      withAdmin(async (admin) => {
        const changed: string[] = []
        const existing = new Set(await admin.listTopics())
        const missing = topics.filter((t) => !existing.has(t.name))
        if (missing.length > 0) {
          await admin.createTopics({
            // kafkajs's own wait retries only LEADER_NOT_AVAILABLE, but a KRaft broker answers
            // UNKNOWN_TOPIC_OR_PARTITION until its metadata cache has the new topic, and kafkajs then
            // fails the whole call (kafkajs/src/admin/index.js, createTopics). waitUntilServed waits instead.
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: t.name,
              numPartitions: t.partitions,
              replicationFactor,
              configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
            })),
          })
          await waitUntilServed(
            admin,
            missing.map((t) => t.name),
          )
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
        // kafkajs's fetchTopicOffsets retries only UNKNOWN_TOPIC_OR_PARTITION and gives up at once on other
        // retriable errors (kafkajs/src/admin/index.js), such as NOT_LEADER_FOR_PARTITION while a new
        // topic's leadership propagates; lag feeds a metric and an alert, so retry those here.
        const [high, committed] = await retryRetriable(() => Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]))
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

/**
 * Waits until the broker serves offsets for every partition of `topics`, so a topic that ensureTopics
 * created is usable (produce, consume, lag) the moment it returns. Right after creation a KRaft broker
 * answers UNKNOWN_TOPIC_OR_PARTITION, then NOT_LEADER_FOR_PARTITION, for a short while.
 */
async function waitUntilServed(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const topic of topics) {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.fetchTopicOffsets(topic)
        break
      } catch (err) {
        if ((err as { retriable?: unknown }).retriable !== true || Date.now() > deadline) throw err
        await sleep(fullJitterDelay(Math.min(attempt, 4), { baseMs: 50, capMs: 500 }))
      }
    }
  }
}

/** Retries what kafkajs marks `retriable`, a few times with full-jitter backoff (about 3 s in all at most). */
async function retryRetriable<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt + 1 >= attempts || (err as { retriable?: unknown }).retriable !== true) throw err
      await sleep(fullJitterDelay(attempt, { baseMs: 100, capMs: 1_000 }))
    }
  }
}

/**
 * One produce request in flight at a time, and the kafkajs producer replaced after a failed one. Both
 * close a message-loss hole in kafkajs 2.2.4's idempotent producer: when a produce request fails, kafkajs
 * rolls the partition's sequence number back (kafkajs/src/producer/sendMessages.js) and releases the
 * broker lock before its retry. If the failed request had in fact been written (a timeout after the
 * broker appended), the next batch sent with the rolled-back sequence, by a concurrent send or by the next
 * send after this one gave up, can match the broker's duplicate check (same first and last sequence) and
 * be acknowledged without being written. One request at a time keeps another send from slipping in
 * between retries, and a new producer (new producer id, fresh sequences) after a failure keeps the next
 * send from reusing the sequence. The Java client does the same by bumping the producer epoch (KIP-360).
 *
 * Group commit: the sends that arrive while a request is in flight go out together in the next one (up
 * to MAX_GROUP_MESSAGES / MAX_GROUP_BYTES), each resolving when that request is acknowledged — what the
 * Java producer's accumulator does with linger.ms=0. A lone send still goes at once. One request per
 * message cost the broker ~1.8 ms of CPU per order at the order API's rate (bench/order-placement.ts).
 * A group that fails for a reason a retry cannot fix (a record too large) is sent again one send at a
 * time, so one bad record fails only its own send; any other failure fails every send of the group, each
 * with "outcome unknown" as before.
 */
const MAX_GROUP_MESSAGES = 500
const MAX_GROUP_BYTES = 512 * 1024

interface PendingSend {
  readonly topic: string
  readonly messages: readonly OutgoingMessage[]
  readonly bytes: number
  resolve(): void
  reject(err: unknown): void
}

function wrapProducer(first: KafkaProducer, make: () => KafkaProducer): Producer {
  let current: KafkaProducer | undefined = first
  let closed = false
  const queue: PendingSend[] = []
  let flushing: Promise<void> | undefined

  const connected = async (): Promise<KafkaProducer> => {
    if (current) return current
    const fresh = make()
    try {
      await fresh.connect()
    } catch (err) {
      await fresh.disconnect().catch(() => {})
      throw err
    }
    current = fresh
    return fresh
  }

  const produce = async (group: readonly PendingSend[]): Promise<void> => {
    const producer = await connected()
    const byTopic = new Map<string, OutgoingMessage[]>()
    for (const p of group) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), ...p.messages])
    try {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({
          topic,
          messages: messages.map((m) => ({ key: m.key ?? null, value: m.value, headers: m.headers ? { ...m.headers } : {} })),
        })),
      })
    } catch (err) {
      current = undefined
      await producer.disconnect().catch(() => {})
      throw err
    }
  }

  /** The oldest sends, in call order, up to the group limits (always at least one). */
  const takeGroup = (): PendingSend[] => {
    const group = [queue.shift()!]
    let messages = group[0]!.messages.length
    let bytes = group[0]!.bytes
    while (queue.length > 0 && messages + queue[0]!.messages.length <= MAX_GROUP_MESSAGES && bytes + queue[0]!.bytes <= MAX_GROUP_BYTES) {
      const next = queue.shift()!
      messages += next.messages.length
      bytes += next.bytes
      group.push(next)
    }
    return group
  }

  // The loop clears `flushing` itself, in the same turn as its last look at the queue (no await between):
  // a send made by a caller resumed from the last group's acknowledgement must find either the loop
  // still running or none at all, never one about to stop.
  const flush = async (): Promise<void> => {
    try {
      while (queue.length > 0) {
        const group = takeGroup()
        try {
          await produce(group)
          for (const p of group) p.resolve()
        } catch (err) {
          if (group.length === 1 || (err as { retriable?: unknown }).retriable !== false) {
            for (const p of group) p.reject(err)
            continue
          }
          for (const p of group) {
            try {
              await produce([p])
              p.resolve()
            } catch (own) {
              p.reject(own)
            }
          }
        }
      }
    } finally {
      flushing = undefined
    }
  }

  return {
    send(topic, messages) {
      if (closed) return Promise.reject(new Error('Kafka producer is closed'))
      return new Promise<void>((resolve, reject) => {
        const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.value) + (m.key ? Buffer.byteLength(m.key) : 0), 0)
        queue.push({ topic, messages, bytes, resolve, reject })
        flushing ??= flush()
      })
    },
    async close() {
      closed = true
      await flushing
      await current?.disconnect()
      current = undefined
    },
  }
}

/**
 * Thrown in place of whatever a batch handler threw. kafkajs's retrier gives up for good on TypeError,
 * RangeError, SyntaxError, ReferenceError and errors with `retriable: false`
 * (kafkajs/src/retry/index.js), and the consumer then crashes without restarting
 * (kafkajs/src/consumer/index.js, onCrash): one JSON.parse of a bad payload would stop consumption
 * silently. Wrapped, every handler failure is retried and, after the retries, the consumer restarts,
 * so the batch is redelivered as the Consumer contract says.
 */
class BatchHandlerError extends Error {
  readonly retriable = true
  constructor(cause: unknown) {
    super(`batch handler failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'BatchHandlerError'
  }
}

function wrapConsumer(consumer: KafkaConsumer, heartbeatIntervalMs: number): Consumer {
  return {
    async run(handle) {
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          const last = batch.messages[batch.messages.length - 1]
          if (!isRunning() || isStale() || !last) return
          const messages = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString('utf8') : null,
            value: m.value ?? Buffer.alloc(0),
            headers: decodeHeaders(m.headers),
            timestamp: Number(m.timestamp),
          }))
          // kafkajs heartbeats only between batches; a handler slower than the session timeout would lose
          // its membership and then fail its commit (UNKNOWN_MEMBER_ID, which crashed the consumer).
          // Heartbeat errors are left to the commit below: a rebalance makes it fail and the batch is
          // redelivered.
          const keepAlive = setInterval(() => heartbeat().catch(() => {}), heartbeatIntervalMs)
          try {
            await handle({ topic: batch.topic, partition: batch.partition, highWatermark: batch.highWatermark, messages })
          } catch (err) {
            throw new BatchHandlerError(err)
          } finally {
            clearInterval(keepAlive)
          }
          // Commit through the batch's own commit (the consumer group's OffsetCommit), not
          // consumer.commitOffsets: that one returns without committing once close() has begun
          // (kafkajs/src/consumer/runner.js, commitOffsets checks `running`), so every batch finishing during
          // a graceful shutdown was redelivered. The committed offset is the next one to read; lastOffset()
          // also covers transaction markers after the last message. A failed commit throws before
          // resolveOffset, so the next fetch starts at this batch again.
          const next = (BigInt(batch.lastOffset()) + 1n).toString()
          await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] })
          resolveOffset(last.offset)
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

/**
 * kafkajs warns on every idempotent producer with bounded retries that this "may invalidate EoS
 * guarantees". wrapProducer replaces the producer after a failed send, which removes the hazard the
 * warning is about, so it is logged at debug level instead of on every start.
 */
const HANDLED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees'])

function forwardLog(logger: KafkaLogger | undefined, entry: LogEntry): void {
  const { message, ...rest } = entry.log
  const obj = { kafka: entry.namespace, ...rest }
  const level = HANDLED_WARNINGS.has(message) ? logLevel.DEBUG : entry.level
  if (!logger) {
    if (level <= logLevel.WARN) console.warn(`[kafkajs] ${entry.namespace}: ${message}`)
    return
  }
  if (level === logLevel.ERROR) logger.error(obj, message)
  else if (level === logLevel.WARN) logger.warn(obj, message)
  else if (level === logLevel.INFO) logger.info(obj, message)
  else logger.debug(obj, message)
}
