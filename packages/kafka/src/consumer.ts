import type { Consumer as KafkaConsumer, IHeaders } from 'kafkajs'
import type { Consumer } from './types.ts'

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

export function wrapConsumer(consumer: KafkaConsumer, heartbeatIntervalMs: number): Consumer {
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
