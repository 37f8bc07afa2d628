/**
 * Shared by the Kafka suites: bounded polling, a consumer that collects what it receives, and the count
 * of messages a topic holds, read from the broker's offsets.
 */
import { randomBytes } from 'node:crypto'
import type { Consumer, IncomingMessage, KafkaClient } from '../src/index.ts'

/** Polls `check` until it returns true; fails naming `what` after `timeoutMs` (30 s by default). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export function uniqueGroup(label: string): string {
  return `test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`
}

/** A consumer that appends every message it is given to `received`, from the start of the topic. */
export async function collectingConsumer(kafka: KafkaClient, groupId: string, topic: string): Promise<{ consumer: Consumer; received: IncomingMessage[] }> {
  const received: IncomingMessage[] = []
  const consumer = await kafka.createConsumer({ groupId, topics: [topic], fromBeginning: true })
  await consumer.run(async (batch) => {
    received.push(...batch.messages)
  })
  return { consumer, received }
}

/** Messages retained in `topic` (high - low watermark, summed): a group that never committed has all of them as lag. */
export async function messageCount(kafka: KafkaClient, topic: string): Promise<number> {
  const lag = await kafka.consumerLag(uniqueGroup('never-consumes'), topic)
  return [...lag.values()].reduce((a, b) => a + b, 0)
}

export async function totalLag(kafka: KafkaClient, groupId: string, topic: string): Promise<number> {
  return [...(await kafka.consumerLag(groupId, topic)).values()].reduce((a, b) => a + b, 0)
}

/** Closes everything given, even when some closes fail. */
export async function closeAll(...closables: ReadonlyArray<{ close(): Promise<void> } | undefined>): Promise<void> {
  await Promise.allSettled(closables.map((c) => c?.close()))
}
