/** Reads a whole DLQ topic, for the tooling (the DLQ keeps everything: retention -1, no compaction). */
import { readTopic, topicSize, type IncomingMessage, type KafkaClient } from '@flashsale/kafka'

export function createDeadLetterReader(kafka: KafkaClient, topic: string, { timeoutMs = 30_000 } = {}) {
  return {
    /** Messages in the topic now, without reading them. */
    size: (): Promise<number> => topicSize(kafka, topic),
    readAll: (): Promise<IncomingMessage[]> => readTopic(kafka, topic, { timeoutMs, groupPrefix: 'order-dlq-tool' }),
  }
}
