/**
 * The worker's batch handler (createOrderBatchHandler) over in-memory fakes: a producer that records what
 * reaches the DLQ topic, and persistOrders' ports (a gate that claims everything, an orders "table" keyed by
 * order id) with a hook to make the transaction fail. Backoff is zero, so the retries take no time. The
 * real-server tests (test/place-order.test.ts, test/dead-letters.test.ts) keep Kafka and Postgres.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseDeadLetter, type Batch, type IncomingMessage, type OrderRequested, type OutgoingMessage, type Producer } from '@flashsale/kafka'
import { orderRequested } from '../fixtures/order-requested.ts'
import { GateUnavailableError } from '../../src/clients/inventory-client.ts'
import type { PersistOrdersDeps, PersistSummary, ToPersist } from '../../src/domain/persist-orders.ts'
import type { OrderStatusView } from '../../src/domain/ports.ts'
import { createOrderBatchHandler, type OrderBatchOptions } from '../../src/worker/handle-order-batch.ts'

const TOPIC = 'orders.requested'
const DLQ = 'orders.requested.dlq'
const PARTITION = 3

interface World {
  orders: Map<string, OrderStatusView>
  /** The order ids of each persist call (one transaction each). */
  persistCalls: string[][]
  dlq: OutgoingMessage[]
  persisted: { summary: PersistSummary; size: number }[]
  deadLettered: string[]
  retries: ('outage' | 'transient')[]
  warnings: string[]
  errors: string[]
}

/** The handler's options over fakes; `persistFault` may throw for a call (given the orders it got). */
function setup(
  options: {
    persistFault?: (orders: readonly ToPersist[], call: number) => Error | undefined
    dlqFault?: () => Error | undefined
    maxAttempts?: number
    signal?: AbortSignal
    /** Leave out the optional onPersisted observer. */
    noObserver?: boolean
  } = {},
): { handle: (batch: Batch) => Promise<void>; world: World } {
  const world: World = { orders: new Map(), persistCalls: [], dlq: [], persisted: [], deadLettered: [], retries: [], warnings: [], errors: [] }
  const deps: PersistOrdersDeps = {
    reservations: {
      claim: async (orderIds) => new Map(orderIds.map((id) => [id, 'ok'])),
      commit: async () => {},
      confirm: async () => {},
      release: async () => {},
    },
    async persist(orders) {
      world.persistCalls.push(orders.map((o) => o.orderId))
      const err = options.persistFault?.(orders, world.persistCalls.length)
      if (err) throw err
      for (const { rejectReason: _r, idempotencyKey: _k, ...o } of orders)
        if (!world.orders.has(o.orderId)) world.orders.set(o.orderId, { ...o, status: 'confirmed' })
      return orders.map((o) => world.orders.get(o.orderId) as OrderStatusView)
    },
    statusCache: { put: async () => {}, get: async () => undefined },
    publish: async () => {},
  }
  const producer: Producer = {
    async send(topic, messages) {
      assert.equal(topic, DLQ, 'the handler produces to the DLQ topic only')
      const err = options.dlqFault?.()
      if (err) throw err
      world.dlq.push(...messages)
    },
    close: async () => {},
  }
  const handlerOptions: OrderBatchOptions = {
    ctx: deps,
    producer,
    dlqTopic: DLQ,
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { baseMs: 0, capMs: 0 },
    // As the worker wires it (worker.ts), minus the database and breaker checks this file does not need.
    isOutage: (err) => err instanceof GateUnavailableError,
    ...(options.signal ? { signal: options.signal } : {}),
    log: { warn: (_obj, msg) => void world.warnings.push(msg), error: (_obj, msg) => void world.errors.push(msg) },
    ...(options.noObserver ? {} : { onPersisted: (summary: PersistSummary, size: number) => void world.persisted.push({ summary, size }) }),
    onDeadLetter: (errorClass) => void world.deadLettered.push(errorClass),
    onRetry: (reason) => void world.retries.push(reason),
  }
  return { handle: createOrderBatchHandler(handlerOptions), world }
}

let nextOffset = 100
function message(value: string | OrderRequested, key: string | null = 'user-1'): IncomingMessage {
  return {
    topic: TOPIC,
    partition: PARTITION,
    offset: String(nextOffset++),
    key,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: { 'event-type': 'order.requested', 'trace-id': 't-1' },
    timestamp: Date.parse('2026-12-07T12:00:00.000Z'),
  }
}

const batch = (...messages: IncomingMessage[]): Batch => ({ topic: TOPIC, partition: PARTITION, messages, highWatermark: String(nextOffset) })
const gateDown = () => new GateUnavailableError('inventory claim failed: connect ECONNREFUSED')
/** An error no retry fixes and that is no outage (a constraint the order breaks, say). */
class PoisonOrderError extends Error {}

describe('order batch handler (in-memory ports)', () => {
  it('persists the valid messages of a batch together, in one transaction, and dead-letters nothing', async () => {
    const { handle, world } = setup()

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2')), message(orderRequested('o3'))))

    assert.deepEqual(world.persistCalls, [['o1', 'o2', 'o3']])
    assert.deepEqual([...world.orders.keys()], ['o1', 'o2', 'o3'])
    assert.deepEqual(world.persisted, [{ summary: { confirmed: 3, rejected: 0, other: 0 }, size: 3 }])
    assert.deepEqual(world.dlq, [])
    assert.deepEqual(world.retries, [])
  })

  it('dead-letters a message that is not JSON or breaks the contract, with its key, value, headers and reason, and persists the others', async () => {
    const { handle, world } = setup()
    const notJson = message('{"orderId": ')
    const badQty = message({ ...orderRequested('o9'), qty: 0 }, null)
    const started = Date.now()

    await handle(batch(message(orderRequested('o1')), notJson, badQty, message(orderRequested('o2'))))

    assert.deepEqual(world.persistCalls, [['o1', 'o2']])
    assert.deepEqual(world.deadLettered, ['InvalidEventError', 'InvalidEventError'])
    assert.equal(world.warnings.length, 2)
    assert.equal(world.dlq.length, 2)

    const [first, second] = world.dlq.map((m) => parseDeadLetter({ key: m.key ?? null, value: Buffer.from(m.value), headers: m.headers ?? {} }))
    assert.ok(first && second)
    assert.equal(first.key, 'user-1')
    assert.deepEqual(first.value, notJson.value, 'the value goes to the DLQ unchanged')
    assert.deepEqual(first.originalHeaders, notJson.headers)
    assert.equal(first.errorClass, 'InvalidEventError')
    assert.match(first.errorMessage, /^not JSON/)
    assert.equal(first.attempts, 1, 'no retry can fix a bad payload')
    assert.deepEqual(first.origin, { topic: TOPIC, partition: PARTITION, offset: notJson.offset })
    assert.ok(first.firstFailureAt.getTime() >= started && first.firstFailureAt.getTime() === first.lastFailureAt.getTime())

    assert.equal(world.dlq[1]?.key, undefined, 'a message without a key is dead-lettered without one')
    assert.match(second.errorMessage, /qty/)
    assert.deepEqual(second.origin, { topic: TOPIC, partition: PARTITION, offset: badQty.offset })
  })

  it('a batch of poison messages only is dead-lettered without asking the database anything; an empty batch does nothing', async () => {
    const { handle, world } = setup()

    await handle(batch(message('nope'), message({ ...orderRequested('o1'), type: 'order.paid' } as unknown as OrderRequested)))
    await handle(batch())

    assert.equal(world.dlq.length, 2)
    assert.deepEqual(world.persistCalls, [])
    assert.deepEqual(world.persisted, [])
  })

  it('when the DLQ cannot be written the handler rejects (nothing committed, the batch comes back) and persists nothing yet', async () => {
    const kafkaDown = new Error('KafkaJSNumberOfRetriesExceeded')
    const { handle, world } = setup({ dlqFault: () => kafkaDown })

    await assert.rejects(handle(batch(message(orderRequested('o1')), message('nope'), message(orderRequested('o2')))), (err) => err === kafkaDown)
    assert.deepEqual(world.persistCalls, [])
    assert.deepEqual(world.deadLettered, [])
  })

  it('an outage is retried past maxAttempts until the dependency is back: never split, never dead-lettered', async () => {
    const { handle, world } = setup({ maxAttempts: 2, persistFault: (_orders, call) => (call <= 5 ? gateDown() : undefined) })

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2'))))

    assert.equal(world.persistCalls.length, 6)
    assert.ok(
      world.persistCalls.every((ids) => ids.join() === 'o1,o2'),
      'always the whole batch',
    )
    assert.deepEqual(world.retries, ['outage', 'outage', 'outage', 'outage', 'outage'])
    assert.deepEqual(world.dlq, [])
    assert.deepEqual(world.errors, [])
    assert.deepEqual(world.persisted, [{ summary: { confirmed: 2, rejected: 0, other: 0 }, size: 2 }])
  })

  it('on shutdown an outage propagates (the offsets are not committed) instead of being dead-lettered', async () => {
    const shutdown = new AbortController()
    shutdown.abort(new Error('shutting down'))
    const { handle, world } = setup({ signal: shutdown.signal, persistFault: () => gateDown() })

    await assert.rejects(handle(batch(message(orderRequested('o1')))), GateUnavailableError)
    assert.equal(world.persistCalls.length, 1)
    assert.deepEqual(world.dlq, [])

    // Shut down while the outage retries run: the next failure propagates instead of another retry.
    const stopping = new AbortController()
    const waiting = setup({
      signal: stopping.signal,
      persistFault: (_orders, call) => {
        if (call === 2) stopping.abort(new Error('shutting down'))
        return gateDown()
      },
    })
    await assert.rejects(waiting.handle(batch(message(orderRequested('o1')))), GateUnavailableError, 'the second failure sees the abort')
    assert.equal(waiting.world.persistCalls.length, 2)
    assert.deepEqual(waiting.world.dlq, [])
  })

  it('a transient failure is retried with the whole batch, and succeeds without a duplicate', async () => {
    const { handle, world } = setup({ persistFault: (_orders, call) => (call === 1 ? new Error('deadlock detected') : undefined) })

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2'))))

    assert.deepEqual(world.retries, ['transient'])
    assert.deepEqual(world.persistCalls, [
      ['o1', 'o2'],
      ['o1', 'o2'],
    ])
    assert.equal(world.orders.size, 2)
    assert.deepEqual(world.dlq, [])
  })

  it('a batch that fails maxAttempts times is split: each order alone, the good ones persisted, the poison one retried then dead-lettered', async () => {
    const maxAttempts = 3
    const { handle, world } = setup({
      maxAttempts,
      persistFault: (orders) => (orders.some((o) => o.orderId === 'o2') ? new PoisonOrderError('violates check constraint') : undefined),
    })
    const poison = message(orderRequested('o2'), 'user-2')

    await handle(batch(message(orderRequested('o1')), poison, message(orderRequested('o3'))))

    assert.deepEqual(world.retries, ['transient', 'transient'], 'maxAttempts − 1 retries of the whole batch')
    assert.equal(world.errors.length, 1, 'the split is logged as an error')
    assert.deepEqual(world.persistCalls, [['o1', 'o2', 'o3'], ['o1', 'o2', 'o3'], ['o1', 'o2', 'o3'], ['o1'], ['o2'], ['o2'], ['o2'], ['o3']])
    assert.deepEqual([...world.orders.keys()], ['o1', 'o3'])
    assert.deepEqual(
      world.persisted.map((p) => p.size),
      [1, 1],
    )
    assert.deepEqual(world.deadLettered, ['PoisonOrderError'])
    assert.equal(world.dlq.length, 1)
    const letter = parseDeadLetter({ key: world.dlq[0]?.key ?? null, value: Buffer.from(world.dlq[0]?.value ?? ''), headers: world.dlq[0]?.headers ?? {} })
    assert.equal(letter.key, 'user-2')
    assert.deepEqual(letter.value, poison.value)
    assert.equal(letter.errorClass, 'PoisonOrderError')
    assert.equal(letter.errorMessage, 'violates check constraint')
    assert.equal(letter.attempts, maxAttempts)
    assert.deepEqual(letter.origin, { topic: TOPIC, partition: PARTITION, offset: poison.offset })
  })

  it('persists the batch whether or not an onPersisted observer is given', async () => {
    // `onPersisted?.(await persistOrders(…))` once skipped the whole persist when no observer was given.
    const { handle, world } = setup({ noObserver: true })

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2'))))

    assert.deepEqual(world.persistCalls, [['o1', 'o2']])
    assert.equal(world.orders.size, 2)
  })

  it('an outage while the batch is split is waited out: the good orders are persisted, none is dead-lettered for it', async () => {
    // Calls 1-3: the whole batch fails transiently (split after maxAttempts 3); then o1 alone meets the gate down
    // twice before it is back.
    const { handle, world } = setup({
      maxAttempts: 3,
      persistFault: (orders, call) => (call <= 3 ? new Error('deadlock detected') : call <= 5 ? gateDown() : undefined),
    })

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2'))))

    assert.deepEqual(world.dlq, [], 'an outage is no reason to dead-letter an order')
    assert.deepEqual([...world.orders.keys()], ['o1', 'o2'])
    assert.deepEqual(world.retries, ['transient', 'transient', 'outage', 'outage'])
  })

  it('outage waits spend none of the attempts at a transient error', async () => {
    // Five outages, then one transient error, then success: with maxAttempts 3 the transient error is retried
    // with the whole batch, not taken for the third failure that splits it.
    const { handle, world } = setup({
      maxAttempts: 3,
      persistFault: (_orders, call) => (call <= 5 ? gateDown() : call === 6 ? new Error('deadlock detected') : undefined),
    })

    await handle(batch(message(orderRequested('o1')), message(orderRequested('o2'))))

    assert.equal(world.persistCalls.length, 7)
    assert.ok(
      world.persistCalls.every((ids) => ids.join() === 'o1,o2'),
      'never split',
    )
    assert.deepEqual(world.errors, [])
  })
})
