import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestTopics, getInfra, type TestTopics } from '@flashsale/testkit'
import {
  createKafka,
  createRetryingHandler,
  DLQ_HEADERS,
  parseDeadLetter,
  TOPICS,
  type DeadLetterReason,
  type HandleOutcome,
  type IncomingMessage,
  type KafkaClient,
  type Producer,
  type TopicDefinition,
} from '../src/index.ts'
import { collectingConsumer, messageCount, totalLag, uniqueGroup, waitFor } from './helpers.ts'

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const fastBackoff = { baseMs: 5, capMs: 20 }

class TransientError extends Error {}
class PoisonError extends Error {}
const isRetryable = (err: unknown) => err instanceof TransientError

describe('retry then dead-letter, on the real broker', () => {
  const made: TestTopics<string>[] = []
  let kafka: KafkaClient
  let producer: Producer

  /** A fresh orders.requested / orders.dlq pair for one test, deleted in after(). */
  async function topicPair(label: string, dlq: TopicDefinition = TOPICS.ordersDlq): Promise<{ source: string; dlq: string }> {
    const t = await createTestTopics(label, { source: TOPICS.ordersRequested, dlq })
    made.push(t)
    return t.names
  }

  /** Produces `messages`, consumes them in a group through `handler`, and waits until the group's lag is 0. */
  async function consumeAllThrough(source: string, handler: (msg: IncomingMessage) => Promise<HandleOutcome>, count: number): Promise<HandleOutcome[]> {
    const groupId = uniqueGroup('dlq-source')
    const outcomes: HandleOutcome[] = []
    const consumer = await kafka.createConsumer({ groupId, topics: [source], fromBeginning: true })
    try {
      await consumer.run(async (batch) => {
        for (const msg of batch.messages) outcomes.push(await handler(msg))
      })
      await waitFor(`${count} outcomes`, () => outcomes.length >= count)
      await waitFor('the source group committed everything', async () => (await totalLag(kafka, groupId, source)) === 0)
    } finally {
      await consumer.close()
    }
    return outcomes
  }

  before(async () => {
    kafka = createKafka({ brokers: (await getInfra()).kafkaBrokers, clientId: 'kafka-dlq-test', logger: silent })
    producer = await kafka.createProducer()
  })
  after(async () => {
    await producer?.close()
    await Promise.allSettled(made.map((t) => t.cleanup()))
  })

  it('dead-letters a message that fails every attempt after maxAttempts, value, key and headers unchanged, with the error, attempts and origin', async () => {
    const topics = await topicPair('dlq-exhausted')
    const value = JSON.stringify({ orderId: 'o-1', sku: 'sku-9', qty: 1 })
    await producer.send(topics.source, [{ key: 'user-42', value, headers: { 'event-type': 'order.requested', 'idempotency-key': 'idem-1' } }])

    const attempts: number[] = []
    const deadLettered: DeadLetterReason[] = []
    const handler = createRetryingHandler({
      handle: async (_msg, attempt) => {
        attempts.push(attempt)
        throw new TransientError(`database unavailable (attempt ${attempt})`)
      },
      maxAttempts: 4,
      backoff: fastBackoff,
      isRetryable,
      dlq: { producer, topic: topics.dlq },
      onDeadLetter: (_msg, reason) => void deadLettered.push(reason),
    })
    const before = Date.now()
    assert.deepEqual(await consumeAllThrough(topics.source, handler, 1), ['dead-lettered'])
    assert.deepEqual(attempts, [1, 2, 3, 4])

    const { consumer, received } = await collectingConsumer(kafka, uniqueGroup('dlq-reader'), topics.dlq)
    try {
      await waitFor('the dead letter', () => received.length >= 1)
    } finally {
      await consumer.close()
    }
    assert.equal(received.length, 1)
    const dead = received[0]!
    assert.equal(dead.key, 'user-42')
    assert.equal(dead.value.toString(), value)
    assert.equal(dead.headers['event-type'], 'order.requested')
    assert.equal(dead.headers['idempotency-key'], 'idem-1')
    assert.equal(dead.headers[DLQ_HEADERS.errorClass], 'TransientError')
    assert.equal(dead.headers[DLQ_HEADERS.errorMessage], 'database unavailable (attempt 4)')
    assert.equal(dead.headers[DLQ_HEADERS.attempts], '4')
    assert.equal(dead.headers[DLQ_HEADERS.originTopic], topics.source)

    // The origin is where the message really was: read it there and compare.
    const original = await collectingConsumer(kafka, uniqueGroup('origin-reader'), topics.source)
    try {
      await waitFor('the original message', () => original.received.length >= 1)
    } finally {
      await original.consumer.close()
    }
    assert.equal(dead.headers[DLQ_HEADERS.originPartition], String(original.received[0]!.partition))
    assert.equal(dead.headers[DLQ_HEADERS.originOffset], original.received[0]!.offset)

    const parsed = parseDeadLetter(dead)
    assert.deepEqual(parsed.originalHeaders, { 'event-type': 'order.requested', 'idempotency-key': 'idem-1' })
    assert.deepEqual(parsed.origin, { topic: topics.source, partition: original.received[0]!.partition, offset: original.received[0]!.offset })
    assert.equal(parsed.attempts, 4)
    assert.ok(parsed.firstFailureAt.getTime() >= before - 1_000 && parsed.firstFailureAt <= parsed.lastFailureAt)
    assert.ok(parsed.lastFailureAt.getTime() <= Date.now())
    assert.match(dead.headers[DLQ_HEADERS.firstFailureAt]!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    assert.equal(deadLettered.length, 1, 'onDeadLetter was told once')
  })

  it('dead-letters a non-retryable error after 1 attempt', async () => {
    const topics = await topicPair('dlq-poison')
    const attempts: number[] = []
    const handler = createRetryingHandler({
      handle: async (_msg, attempt) => {
        attempts.push(attempt)
        throw new PoisonError('sku does not exist')
      },
      backoff: fastBackoff,
      isRetryable,
      dlq: { producer, topic: topics.dlq },
    })
    await producer.send(topics.source, [{ key: 'user-7', value: 'poison' }])
    assert.deepEqual(await consumeAllThrough(topics.source, handler, 1), ['dead-lettered'])
    assert.deepEqual(attempts, [1])

    const { consumer, received } = await collectingConsumer(kafka, uniqueGroup('dlq-reader'), topics.dlq)
    try {
      await waitFor('the dead letter', () => received.length >= 1)
    } finally {
      await consumer.close()
    }
    const parsed = parseDeadLetter(received[0]!)
    assert.equal(parsed.attempts, 1)
    assert.equal(parsed.errorClass, 'PoisonError')
    assert.equal(parsed.errorMessage, 'sku does not exist')
    assert.deepEqual(parsed.firstFailureAt, parsed.lastFailureAt)
    assert.equal(parsed.value.toString(), 'poison')
  })

  it('processes a message whose transient error clears on attempt 3 and does not dead-letter it', async () => {
    const topics = await topicPair('dlq-recovers')
    const attempts: number[] = []
    const handler = createRetryingHandler({
      handle: async (_msg, attempt) => {
        attempts.push(attempt)
        if (attempt < 3) throw new TransientError('serialization failure')
      },
      maxAttempts: 5,
      backoff: fastBackoff,
      isRetryable,
      dlq: { producer, topic: topics.dlq },
    })
    await producer.send(topics.source, [{ key: 'user-1', value: 'fine eventually' }])
    assert.deepEqual(await consumeAllThrough(topics.source, handler, 1), ['processed'])
    assert.deepEqual(attempts, [1, 2, 3])
    // The DLQ produce is awaited before the handler resolves, so an empty DLQ now means none was made.
    assert.equal(await messageCount(kafka, topics.dlq), 0)
  })

  it('propagates a failed DLQ produce, so the consumer commits nothing and the message comes back', async () => {
    // A DLQ topic that refuses records over 256 bytes: the dead letter (value + dlq-* headers) exceeds it,
    // and the broker rejects the produce for real.
    const cramped: TopicDefinition = { ...TOPICS.ordersDlq, config: { 'max.message.bytes': '256' } }
    const topics = await topicPair('dlq-unwritable', cramped)
    const handler = createRetryingHandler({
      handle: async () => {
        throw new PoisonError('x'.repeat(300))
      },
      backoff: fastBackoff,
      isRetryable,
      dlq: { producer, topic: topics.dlq },
    })
    await producer.send(topics.source, [{ key: 'user-3', value: 'cannot be dead-lettered' }])

    const groupId = uniqueGroup('dlq-unwritable')
    const deliveries: string[] = []
    const errors: unknown[] = []
    const consumer = await kafka.createConsumer({ groupId, topics: [topics.source], fromBeginning: true })
    try {
      await consumer.run(async (batch) => {
        for (const msg of batch.messages) {
          deliveries.push(msg.offset)
          try {
            await handler(msg)
          } catch (err) {
            errors.push(err)
            throw err
          }
        }
      })
      await waitFor('a redelivery', () => deliveries.length >= 2)
      assert.equal(await totalLag(kafka, groupId, topics.source), 1, 'not committed')
    } finally {
      await consumer.close()
    }
    assert.equal(deliveries[0], deliveries[1], 'the same message came back')
    assert.match(String((errors[0] as Error).message), /larger than the max message size/)
    assert.equal(await messageCount(kafka, topics.dlq), 0)
  })

  it('stops retrying when its signal aborts, without dead-lettering', async () => {
    const topics = await topicPair('dlq-abort')
    const controller = new AbortController()
    const attempts: number[] = []
    const handler = createRetryingHandler({
      handle: async (_msg, attempt) => {
        attempts.push(attempt)
        controller.abort(new Error('shutting down'))
        throw new TransientError('still down')
      },
      backoff: { baseMs: 60_000, capMs: 60_000 },
      isRetryable,
      dlq: { producer, topic: topics.dlq },
      signal: controller.signal,
    })
    const msg: IncomingMessage = { topic: topics.source, partition: 0, offset: '0', key: 'k', value: Buffer.from('v'), headers: {}, timestamp: Date.now() }
    await assert.rejects(handler(msg), /shutting down/)
    assert.deepEqual(attempts, [1])
    assert.equal(await messageCount(kafka, topics.dlq), 0)
  })
})
