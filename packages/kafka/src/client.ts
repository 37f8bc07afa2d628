/**
 * createKafka: our Kafka interface (types.ts) over kafkajs. The parts live beside it: the admin side
 * (admin.ts), the batching idempotent producer (producer.ts), the consumer wrapper (consumer.ts) and the
 * log bridge (log.ts); services import the package's index only.
 */
import { Kafka, Partitioners, logLevel, type Admin, type LogEntry } from 'kafkajs'
import { consumerLag, deleteTopics, ensureTopics } from './admin.ts'
import { wrapConsumer } from './consumer.ts'
import { forwardLog } from './log.ts'
import { wrapProducer } from './producer.ts'
import type { KafkaClient, KafkaOptions } from './types.ts'

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

    ensureTopics: (topics, replicationFactor = 1) => withAdmin((admin) => ensureTopics(admin, topics, replicationFactor)),
    deleteTopics: (names) => withAdmin((admin) => deleteTopics(admin, names)),
    consumerLag: (groupId, topic) => withAdmin((admin) => consumerLag(admin, groupId, topic)),
  }
}
