/**
 * Reads a whole topic from the beginning: for tooling (the DLQ commands) and `make verify`, never for the
 * hot path. The client offers consumer groups only, so each read uses a fresh group that starts at the
 * earliest retained offset and stops once it has seen as many messages per partition as the topic held
 * when the read began (high − low: right for topics that are not compacted). The throwaway groups commit
 * nothing anyone reads; the broker drops them after offsets.retention.minutes.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, KafkaClient } from './types.ts'

/** Messages in the topic now (per partition, high − low), without reading them. */
export async function topicSize(kafka: KafkaClient, topic: string): Promise<number> {
  // A group that never commits: its lag is everything from the low watermark.
  const lag = await kafka.consumerLag(`flashsale-topic-size-never-commits`, topic)
  return [...lag.values()].reduce((a, b) => a + b, 0)
}

/** Every message the topic held when the call began, by partition then offset. */
export async function readTopic(kafka: KafkaClient, topic: string, { timeoutMs = 30_000, groupPrefix = 'flashsale-read' } = {}): Promise<IncomingMessage[]> {
  const groupId = `${groupPrefix}-${randomUUID()}`
  const expected = new Map([...(await kafka.consumerLag(groupId, topic))].filter(([, n]) => n > 0))
  if (expected.size === 0) return []
  const seen = new Map<number, number>()
  const out: IncomingMessage[] = []
  const consumer = await kafka.createConsumer({ groupId, topics: [topic], fromBeginning: true })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} took longer than ${timeoutMs} ms`)), timeoutMs)
      consumer
        .run(async (batch) => {
          out.push(...batch.messages)
          seen.set(batch.partition, (seen.get(batch.partition) ?? 0) + batch.messages.length)
          if ([...expected].every(([p, n]) => (seen.get(p) ?? 0) >= n)) {
            clearTimeout(timer)
            resolve()
          }
        })
        .catch((err: unknown) => {
          clearTimeout(timer)
          reject(err instanceof Error ? err : new Error(String(err)))
        })
    })
  } finally {
    await consumer.close()
  }
  // Messages appended while reading are left for the next read.
  const firsts = new Map<number, number>()
  return out
    .filter((m) => {
      const n = (firsts.get(m.partition) ?? 0) + 1
      firsts.set(m.partition, n)
      return n <= (expected.get(m.partition) ?? 0)
    })
    .sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1))
}
