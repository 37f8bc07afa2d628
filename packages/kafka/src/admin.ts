/** The admin side over kafkajs: topics made from the one definition (topics.ts), consumer lag. */
import type { Admin } from 'kafkajs'
import { fullJitterDelay, sleep } from '@flashsale/resilience'
import type { TopicDefinition } from './topics.ts'

/** Creates the topics that are missing and grows those with fewer partitions than defined; says what it changed. */
export async function ensureTopics(admin: Admin, topics: readonly TopicDefinition[], replicationFactor: number): Promise<string[]> {
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
}

export async function deleteTopics(admin: Admin, names: readonly string[]): Promise<void> {
  const existing = new Set(await admin.listTopics())
  const topics = names.filter((n) => existing.has(n))
  if (topics.length > 0) await admin.deleteTopics({ topics })
}

/** Messages not yet committed by the group, per partition of the topic. */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
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
}

/**
 * Waits until the broker serves offsets for every partition of `topics`, so a topic that ensureTopics
 * created is usable (produce, consume, lag) the moment it returns. Right after creation a KRaft broker
 * answers UNKNOWN_TOPIC_OR_PARTITION, then NOT_LEADER_FOR_PARTITION, for a short while.
 */
export async function waitUntilServed(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
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
export async function retryRetriable<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt + 1 >= attempts || (err as { retriable?: unknown }).retriable !== true) throw err
      await sleep(fullJitterDelay(attempt, { baseMs: 100, capMs: 1_000 }))
    }
  }
}
