/**
 * What the worker does with one partition's batch of orders.requested, and how it fails:
 * - a message that is not a valid order.requested goes to the DLQ at once (no retry can fix it);
 * - the valid ones are persisted together (domain/persist-orders.ts) and retried with exponential backoff
 *   and full jitter on transient errors;
 * - an outage (database or stock gate unreachable) is not the messages' fault: the batch is retried until
 *   the dependency is back (the consumer stalls, lag grows, the lag alert fires), never dead-lettered;
 * - any other failure that outlives `maxAttempts` splits the batch: each order alone, with retry-then-DLQ,
 *   so one poison order cannot hold back the others.
 * The handler resolves only when every message is persisted or in the DLQ; then the offsets are committed.
 */
import {
  InvalidEventError,
  OrderRequestedV1,
  createRetryingHandler,
  deadLetterHeaders,
  parseEvent,
  type Batch,
  type IncomingMessage,
  type OrderRequested,
  type Producer,
} from '@flashsale/kafka'
import { fullJitterDelay, sleep, type BackoffOptions } from '@flashsale/resilience'
import type { Log } from '@flashsale/logging'
import { persistOrders, type PersistOrdersDeps, type PersistSummary } from '../domain/persist-orders.ts'

export interface OrderBatchOptions {
  /** The slice of the worker's context (worker/context.ts) that persisting a batch uses. */
  readonly ctx: PersistOrdersDeps
  readonly producer: Producer
  readonly dlqTopic: string
  readonly maxAttempts: number
  readonly backoff: BackoffOptions
  /** True for errors that mean "a dependency is down" rather than "this batch is bad". */
  readonly isOutage: (err: unknown) => boolean
  readonly signal?: AbortSignal
  readonly log: Pick<Log, 'warn' | 'error'>
  readonly onPersisted?: (summary: PersistSummary, batchSize: number) => void
  readonly onDeadLetter?: (errorClass: string) => void
  readonly onRetry?: (reason: 'outage' | 'transient') => void
}

export function createOrderBatchHandler(options: OrderBatchOptions): (batch: Batch) => Promise<void> {
  const { ctx, producer, dlqTopic, maxAttempts, backoff, isOutage, signal, log } = options

  const deadLetter = async (msg: IncomingMessage, err: Error) => {
    const now = new Date()
    await producer.send(dlqTopic, [
      {
        ...(msg.key === null ? {} : { key: msg.key }),
        value: msg.value,
        headers: deadLetterHeaders(msg.headers, {
          errorClass: err.name,
          errorMessage: err.message,
          attempts: 1,
          firstFailureAt: now,
          lastFailureAt: now,
          origin: { topic: msg.topic, partition: msg.partition, offset: msg.offset },
        }),
      },
    ])
    options.onDeadLetter?.(err.name)
  }

  /**
   * Persists `events`, waiting out an outage for as long as it lasts (a dependency that is down is never a
   * reason to dead-letter an order); anything else is thrown to the caller's retries. Outage waits count
   * apart: they spend none of the caller's attempts at a transient error.
   */
  async function persistThroughOutages(events: OrderRequested[]): Promise<void> {
    for (let outages = 0; ; outages++) {
      try {
        // The summary first: `onPersisted?.(await persistOrders(…))` skips its argument, the whole persist,
        // when no observer is given (found by the unit tests).
        const summary = await persistOrders(ctx, events)
        options.onPersisted?.(summary, events.length)
        return
      } catch (err) {
        if (signal?.aborted || !isOutage(err)) throw err
        options.onRetry?.('outage')
        log.warn({ err, attempt: outages }, 'dependency down; retrying the batch until it is back')
        await sleep(fullJitterDelay(Math.min(outages, 10), backoff), signal)
      }
    }
  }

  // One order alone: retried, then dead-lettered with the error that beat it (an outage is waited out first).
  const alone = createRetryingHandler({
    handle: (msg) => persistThroughOutages([parseEvent(OrderRequestedV1, msg.value)]),
    maxAttempts,
    backoff,
    isRetryable: () => true,
    dlq: { producer, topic: dlqTopic },
    onDeadLetter: (_msg, reason) => options.onDeadLetter?.(reason.errorClass),
    ...(signal ? { signal } : {}),
  })

  return async (batch) => {
    const valid: { msg: IncomingMessage; event: OrderRequested }[] = []
    for (const msg of batch.messages) {
      try {
        valid.push({ msg, event: parseEvent(OrderRequestedV1, msg.value) })
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err
        log.warn({ err, offset: msg.offset, partition: msg.partition }, 'invalid order.requested; dead-lettered')
        await deadLetter(msg, err)
      }
    }
    if (valid.length === 0) return

    for (let attempt = 0; ; attempt++) {
      try {
        await persistThroughOutages(valid.map((v) => v.event))
        return
      } catch (err) {
        if (signal?.aborted) throw err
        if (attempt + 1 >= maxAttempts) {
          log.error({ err, size: valid.length }, 'batch failed repeatedly; persisting its orders one by one')
          for (const { msg } of valid) await alone(msg)
          return
        }
        options.onRetry?.('transient')
        await sleep(fullJitterDelay(attempt, backoff), signal)
      }
    }
  }
}
