import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestTopics, getInfra, type TestTopics } from '@flashsale/testkit'
import { createKafka, TOPICS, type IncomingMessage, type KafkaClient, type Producer, type TopicDefinition } from '../src/index.ts'
import { closeAll, collectingConsumer, messageCount, totalLag, uniqueGroup, waitFor } from './helpers.ts'

const silent = { debug() {}, info() {}, warn() {}, error() {} }

describe('kafka client on the real broker', () => {
  const made: TestTopics<string>[] = []
  let brokers: readonly string[]
  let kafka: KafkaClient
  let producer: Producer

  /** Unique copies of topic definitions for one test, deleted in after(). */
  async function topicsFor<K extends string>(label: string, defs: Readonly<Record<K, TopicDefinition>>): Promise<Readonly<Record<K, string>>> {
    const t = await createTestTopics(label, defs)
    made.push(t)
    return t.names
  }

  before(async () => {
    brokers = (await getInfra()).kafkaBrokers
    kafka = createKafka({ brokers, clientId: 'kafka-client-test', logger: silent })
    producer = await kafka.createProducer()
  })
  after(async () => {
    await producer?.close()
    await Promise.allSettled(made.map((t) => t.cleanup()))
  })

  it('delivers keyed messages to a consumer group with key, value and headers intact, in order per key and one partition per key', async () => {
    const { events } = await topicsFor('intact', { events: TOPICS.ordersEvents })
    const keys = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5']
    const sent = keys.flatMap((key) =>
      [0, 1, 2, 3].map((seq) => ({
        key,
        value: JSON.stringify({ key, seq }),
        headers: { 'event-type': 'order.requested', 'event-version': '1', seq: String(seq) },
      })),
    )
    await producer.send(events, sent)
    await producer.send(events, [{ key: 'binary', value: Buffer.from([0, 255, 1, 128]), headers: { 'content-type': 'application/octet-stream' } }])

    const { consumer, received } = await collectingConsumer(kafka, uniqueGroup('intact'), events)
    try {
      await waitFor('21 messages', () => received.length >= sent.length + 1)
      assert.equal(received.length, sent.length + 1)
      for (const key of keys) {
        const mine = received.filter((m) => m.key === key)
        assert.deepEqual(
          mine.map((m) => JSON.parse(m.value.toString())),
          [0, 1, 2, 3].map((seq) => ({ key, seq })),
          `messages of ${key} arrive in the order sent`,
        )
        assert.deepEqual(
          mine.map((m) => m.headers),
          [0, 1, 2, 3].map((seq) => ({ 'event-type': 'order.requested', 'event-version': '1', seq: String(seq) })),
        )
        assert.equal(new Set(mine.map((m) => m.partition)).size, 1, `all of ${key} on one partition`)
        assert.equal(mine[0]?.topic, events)
      }
      const binary = received.find((m) => m.key === 'binary')
      assert.deepEqual(binary?.value, Buffer.from([0, 255, 1, 128]))
      assert.deepEqual(binary?.headers, { 'content-type': 'application/octet-stream' })
    } finally {
      await consumer.close()
    }
  })

  it('commits offsets once the handler resolves: consumerLag reports 0 and a new consumer of the group after close() gets nothing old', async () => {
    const { events } = await topicsFor('commit', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('commit')
    await producer.send(
      events,
      Array.from({ length: 40 }, (_, i) => ({ key: `old-${i}`, value: `old-${i}` })),
    )

    const first = await collectingConsumer(kafka, groupId, events)
    try {
      await waitFor('40 old messages', () => first.received.length >= 40)
      await waitFor('lag 0 for the group', async () => (await totalLag(kafka, groupId, events)) === 0)
    } finally {
      await first.consumer.close()
    }
    assert.equal(first.received.length, 40)

    // A fresh message on every partition: within a partition an old, uncommitted message would come
    // before the fresh one, so once every fresh message is in, every old one would have been too.
    const fresh = Array.from({ length: 120 }, (_, i) => ({ key: `fresh-${i}`, value: `fresh-${i}` }))
    await producer.send(events, fresh)
    const second = await collectingConsumer(kafka, groupId, events)
    try {
      await waitFor('120 fresh messages', () => second.received.filter((m) => m.value.toString().startsWith('fresh-')).length >= 120)
      assert.equal(new Set(second.received.map((m) => m.partition)).size, TOPICS.ordersEvents.partitions, 'fresh messages cover every partition')
      assert.deepEqual(
        second.received.filter((m) => !m.value.toString().startsWith('fresh-')).map((m) => m.value.toString()),
        [],
      )
      await waitFor('lag 0 again', async () => (await totalLag(kafka, groupId, events)) === 0)
    } finally {
      await second.consumer.close()
    }
  })

  it('redelivers the batch of a handler that throws and commits nothing until the handler succeeds (at-least-once)', async () => {
    const { events } = await topicsFor('redeliver', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('redeliver')
    await producer.send(
      events,
      ['a', 'b', 'c'].map((v) => ({ key: 'same-key', value: v })),
    )

    const deliveries: string[][] = []
    const lagSeenWhileFailing: number[] = []
    const consumer = await kafka.createConsumer({ groupId, topics: [events], fromBeginning: true })
    try {
      await consumer.run(async (batch) => {
        deliveries.push(batch.messages.map((m) => `${m.offset}:${m.value.toString()}`))
        if (deliveries.length > 1) lagSeenWhileFailing.push(await totalLag(kafka, groupId, events))
        if (deliveries.length <= 2) throw new Error(`transient failure #${deliveries.length}`)
      })
      await waitFor('a third, successful delivery', () => deliveries.length >= 3)
      await waitFor('lag 0 after the success', async () => (await totalLag(kafka, groupId, events)) === 0)
    } finally {
      await consumer.close()
    }
    assert.deepEqual(deliveries.slice(0, 3), [
      ['0:a', '1:b', '2:c'],
      ['0:a', '1:b', '2:c'],
      ['0:a', '1:b', '2:c'],
    ])
    assert.deepEqual(lagSeenWhileFailing.slice(0, 2), [3, 3], 'nothing was committed while the handler failed')
  })

  it('redelivers after a handler throws a TypeError or SyntaxError too, instead of the consumer stopping for good', async () => {
    const { events } = await topicsFor('js-errors', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('js-errors')
    await producer.send(events, [{ key: 'k', value: '{not json' }])

    let calls = 0
    const consumer = await kafka.createConsumer({ groupId, topics: [events], fromBeginning: true })
    try {
      await consumer.run(async (batch) => {
        calls++
        if (calls === 1) JSON.parse(batch.messages[0]?.value.toString() ?? '') // SyntaxError
        if (calls === 2) (undefined as unknown as { f(): void }).f() // TypeError
      })
      await waitFor('a third delivery', () => calls >= 3)
      await waitFor('lag 0', async () => (await totalLag(kafka, groupId, events)) === 0)
    } finally {
      await consumer.close()
    }
    assert.equal(calls, 3)
  })

  it('keeps its partitions and commits when a handler takes longer than the session timeout', async () => {
    const { events } = await topicsFor('slow', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('slow')
    await producer.send(events, [{ key: 'k', value: 'slow' }])

    let calls = 0
    // 6 s is the broker's smallest allowed session timeout (group.min.session.timeout.ms).
    const consumer = await kafka.createConsumer({ groupId, topics: [events], fromBeginning: true, sessionTimeoutMs: 6_000 })
    try {
      await consumer.run(async () => {
        calls++
        await new Promise((r) => setTimeout(r, 8_000))
      })
      await waitFor('lag 0 after the slow handler', async () => (await totalLag(kafka, groupId, events)) === 0)
    } finally {
      await consumer.close()
    }
    assert.equal(calls, 1, 'handled once: the member was not evicted and the batch not redelivered')
  })

  it('commits a batch that finishes while close() waits for it', async () => {
    const { events } = await topicsFor('close', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('close')
    await producer.send(events, [{ key: 'k', value: 'in flight at shutdown' }])

    let started!: () => void
    const handlerStarted = new Promise<void>((r) => (started = r))
    let finished = false
    const consumer = await kafka.createConsumer({ groupId, topics: [events], fromBeginning: true })
    await consumer.run(async () => {
      started()
      await new Promise((r) => setTimeout(r, 1_000))
      finished = true
    })
    await handlerStarted
    await consumer.close()
    assert.equal(finished, true, 'close() waited for the handler')
    assert.equal(await totalLag(kafka, groupId, events), 0)
  })

  it('splits the partitions between two consumers of one group, which together receive every message exactly once', async () => {
    const { events } = await topicsFor('split', { events: TOPICS.ordersEvents })
    const groupId = uniqueGroup('split')
    const a = await collectingConsumer(kafka, groupId, events)
    const b = await collectingConsumer(kafka, groupId, events)
    try {
      // Until both members have received something, the group may still be rebalancing.
      let round = 0
      await waitFor('both members consuming', async () => {
        await producer.send(
          events,
          Array.from({ length: 24 }, (_, i) => ({ key: `warm-${round}-${i}`, value: 'warm-up' })),
        )
        round++
        await new Promise((r) => setTimeout(r, 200))
        return a.received.length > 0 && b.received.length > 0
      })

      const values = Array.from({ length: 240 }, (_, i) => `real-${i}`)
      await producer.send(
        events,
        values.map((v) => ({ key: v, value: v })),
      )
      const real = (list: IncomingMessage[]) => list.filter((m) => m.value.toString().startsWith('real-'))
      await waitFor('240 real messages between the two', () => real(a.received).length + real(b.received).length >= 240)

      const fromA = real(a.received)
      const fromB = real(b.received)
      assert.ok(fromA.length > 0 && fromB.length > 0, `both received some (a ${fromA.length}, b ${fromB.length})`)
      const all = [...fromA, ...fromB].map((m) => m.value.toString())
      assert.equal(all.length, 240, 'no duplicates')
      assert.deepEqual(new Set(all), new Set(values))
      const partitionsA = new Set(fromA.map((m) => m.partition))
      const partitionsB = new Set(fromB.map((m) => m.partition))
      assert.deepEqual(
        [...partitionsA].filter((p) => partitionsB.has(p)),
        [],
        'no partition is read by both',
      )
    } finally {
      await closeAll(a.consumer, b.consumer)
    }
  })

  it('delivers concurrent sends on one producer each exactly once and, per key, in call order', async () => {
    const { events } = await topicsFor('concurrent', { events: TOPICS.ordersEvents })
    await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send(events, [{ key: `k${i % 4}`, value: String(i) }])))
    assert.equal(await messageCount(kafka, events), 200)

    const { consumer, received } = await collectingConsumer(kafka, uniqueGroup('concurrent'), events)
    try {
      await waitFor('200 messages', () => received.length >= 200)
    } finally {
      await consumer.close()
    }
    for (let k = 0; k < 4; k++) {
      const expected = Array.from({ length: 50 }, (_, j) => String(j * 4 + k))
      assert.deepEqual(
        received.filter((m) => m.key === `k${k}`).map((m) => m.value.toString()),
        expected,
        `k${k} in call order`,
      )
    }
  })

  it('keeps delivering after a send the broker rejected', async () => {
    const tiny: TopicDefinition = { name: 'kafka-test.tiny', partitions: 1, config: { 'max.message.bytes': '1024' }, description: 'rejects records over 1 KiB' }
    const { t } = await topicsFor('rejected', { t: tiny })
    const own = await kafka.createProducer()
    try {
      await assert.rejects(own.send(t, [{ key: 'big', value: Buffer.alloc(8 * 1024, 1) }]), /larger than the max message size/)
      await own.send(t, [{ key: 'small', value: 'fits' }])
      assert.equal(await messageCount(kafka, t), 1)
    } finally {
      await own.close()
    }
  })

  it('sends made while a request is in flight go out together, and a record too large fails only its own send', async () => {
    const tiny: TopicDefinition = { name: 'kafka-test.tiny', partitions: 1, config: { 'max.message.bytes': '1024' }, description: 'rejects records over 1 KiB' }
    const { t } = await topicsFor('group-rejected', { t: tiny })
    const own = await kafka.createProducer()
    try {
      // The first send goes at once, alone; the three made meanwhile wait and go as one group, which the
      // broker refuses for the big record; sent again one by one, only the big one fails.
      const first = own.send(t, [{ key: 'a', value: 'first' }])
      const big = own.send(t, [{ key: 'big', value: Buffer.alloc(8 * 1024, 1) }])
      const smalls = [own.send(t, [{ key: 'b', value: 'second' }]), own.send(t, [{ key: 'c', value: 'third' }])]
      await first
      await assert.rejects(big, /larger than the max message size/)
      await Promise.all(smalls)
      assert.equal(await messageCount(kafka, t), 3)
    } finally {
      await own.close()
    }
  })

  it('close() waits for the sends already made, then refuses new ones', async () => {
    const { events } = await topicsFor('close-drains', { events: TOPICS.ordersEvents })
    const own = await kafka.createProducer()
    const sends = Array.from({ length: 50 }, (_, i) => own.send(events, [{ key: `k${i}`, value: String(i) }]))
    await own.close()
    await Promise.all(sends)
    assert.equal(await messageCount(kafka, events), 50)
    await assert.rejects(own.send(events, [{ value: 'late' }]), /closed/)
  })

  it('rejects a send after close()', async () => {
    const { events } = await topicsFor('closed', { events: TOPICS.ordersEvents })
    const own = await kafka.createProducer()
    await own.close()
    await assert.rejects(own.send(events, [{ value: 'late' }]), /closed/)
    assert.equal(await messageCount(kafka, events), 0)
  })

  // Not observable honestly here. The usual probe, a topic whose min.insync.replicas exceeds its replicas
  // (refused only under acks=all), is accepted by this one-broker cluster: Kafka 4.1 checks
  // min(min.insync.replicas, replica count) (kafka.cluster.Partition.effectiveMinIsr). And the send path
  // exposes no acks. What holds by construction: wrapProducer
  // passes acks: -1, and kafkajs's idempotent producer throws for any other value
  // (kafkajs/src/producer/messageProducer.js).
  it('produces with acks=all (idempotent producer)', { skip: 'acks=all is not observable on a one-broker Kafka 4 cluster; see the comment' }, () => {})
})
