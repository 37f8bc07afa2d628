/**
 * Retry, then dead-letter: the consumer side of "no lost order". A message is handled up to
 * `maxAttempts` times with exponential backoff and full jitter between attempts (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"); a non-retryable error skips the retries. A message that still fails
 * is produced to the DLQ topic with its key and value unchanged and the reason in `dlq-*` headers, and
 * only then does the handler resolve, so the consumer commits it. If the DLQ produce fails, the error
 * propagates: nothing is committed and the message comes back. Nothing is dropped on the floor.
 */
import { fullJitterDelay, sleep, type BackoffOptions } from '@flashsale/resilience'
import type { IncomingMessage, Producer } from './types.ts'

/** The headers a dead letter carries besides its original ones; the contract with the DLQ tooling. */
export const DLQ_HEADERS = {
  /** The thrown error's class name (`TypeError`, `DatabaseError`), or its JS type if it was no Error. */
  errorClass: 'dlq-error-class',
  /** The error message, cut to DLQ_ERROR_MESSAGE_MAX_LENGTH characters. */
  errorMessage: 'dlq-error-message',
  /** How many times the message was handled, as a decimal integer. */
  attempts: 'dlq-attempts',
  /** ISO-8601 UTC time of the first failed attempt. */
  firstFailureAt: 'dlq-first-failure-at',
  /** ISO-8601 UTC time of the last failed attempt. */
  lastFailureAt: 'dlq-last-failure-at',
  originTopic: 'dlq-origin-topic',
  originPartition: 'dlq-origin-partition',
  /** The message's offset in its origin partition, as a decimal string (offsets are 64-bit). */
  originOffset: 'dlq-origin-offset',
} as const

/** Headers count against the broker's message size limit; a stack-sized message has no place there. */
export const DLQ_ERROR_MESSAGE_MAX_LENGTH = 1_000

const DLQ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS))

/** Why and where from a message was dead-lettered. */
export interface DeadLetterReason {
  readonly errorClass: string
  readonly errorMessage: string
  readonly attempts: number
  readonly firstFailureAt: Date
  readonly lastFailureAt: Date
  readonly origin: { readonly topic: string; readonly partition: number; readonly offset: string }
}

/** A message read back from the DLQ: the original message and the reason. */
export interface DeadLetter extends DeadLetterReason {
  readonly key: string | null
  readonly value: Buffer
  /** The message's own headers, without the `dlq-*` ones: what a replay sends again. */
  readonly originalHeaders: Readonly<Record<string, string>>
}

export type HandleOutcome = 'processed' | 'dead-lettered'

export interface RetryingHandlerOptions {
  /** Handles one message; `attempt` counts from 1. Throws to fail the attempt. */
  handle(msg: IncomingMessage, attempt: number): Promise<void>
  /** Attempts before dead-lettering, including the first. Default 5. */
  readonly maxAttempts?: number
  /** Delay before attempt n+1 is fullJitterDelay(n - 1, backoff): random in [0, min(capMs, baseMs·2^(n-1))). */
  readonly backoff: BackoffOptions
  /** False for errors a retry cannot fix (malformed payload, rule violation): dead-letter at once. */
  isRetryable(err: unknown): boolean
  readonly dlq: { readonly producer: Producer; readonly topic: string }
  /**
   * Called after a message is safely in the DLQ (for a metric or a log line). A throw is ignored: the
   * message is already dead-lettered, and failing the handler would dead-letter it a second time.
   */
  onDeadLetter?(msg: IncomingMessage, reason: DeadLetterReason): void | Promise<void>
  /** Aborting stops between attempts (shutdown): the handler rejects and nothing is dead-lettered. */
  readonly signal?: AbortSignal
}

export function createRetryingHandler(options: RetryingHandlerOptions): (msg: IncomingMessage) => Promise<HandleOutcome> {
  const maxAttempts = options.maxAttempts ?? 5
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`)
  const { handle, backoff, isRetryable, dlq, onDeadLetter, signal } = options

  return async (msg) => {
    let firstFailureAt: Date | undefined
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted()
      try {
        await handle(msg, attempt)
        return 'processed'
      } catch (err) {
        const failedAt = new Date()
        firstFailureAt ??= failedAt
        if (attempt < maxAttempts && isRetryable(err)) {
          await sleep(fullJitterDelay(attempt - 1, backoff), signal)
          continue
        }
        const reason: DeadLetterReason = {
          ...describeError(err),
          attempts: attempt,
          firstFailureAt,
          lastFailureAt: failedAt,
          origin: { topic: msg.topic, partition: msg.partition, offset: msg.offset },
        }
        // Not caught: if the DLQ is unreachable the consumer must not commit, so the message is redelivered.
        await dlq.producer.send(dlq.topic, [
          { ...(msg.key === null ? {} : { key: msg.key }), value: msg.value, headers: deadLetterHeaders(msg.headers, reason) },
        ])
        try {
          await onDeadLetter?.(msg, reason)
        } catch {
          // See onDeadLetter: the message is safe in the DLQ; a failing observer must not duplicate it.
        }
        return 'dead-lettered'
      }
    }
  }
}

/** The original headers plus the `dlq-*` ones (which replace any left from an earlier dead-lettering). */
export function deadLetterHeaders(original: Readonly<Record<string, string>>, reason: DeadLetterReason): Record<string, string> {
  return {
    ...original,
    [DLQ_HEADERS.errorClass]: reason.errorClass,
    [DLQ_HEADERS.errorMessage]: reason.errorMessage.slice(0, DLQ_ERROR_MESSAGE_MAX_LENGTH),
    [DLQ_HEADERS.attempts]: String(reason.attempts),
    [DLQ_HEADERS.firstFailureAt]: reason.firstFailureAt.toISOString(),
    [DLQ_HEADERS.lastFailureAt]: reason.lastFailureAt.toISOString(),
    [DLQ_HEADERS.originTopic]: reason.origin.topic,
    [DLQ_HEADERS.originPartition]: String(reason.origin.partition),
    [DLQ_HEADERS.originOffset]: reason.origin.offset,
  }
}

/** A DLQ message whose `dlq-*` headers are missing or malformed (not written by createRetryingHandler). */
export class DeadLetterHeaderError extends Error {
  readonly header: string
  constructor(header: string, problem: string) {
    super(`dead letter header ${header} ${problem}`)
    this.name = 'DeadLetterHeaderError'
    this.header = header
  }
}

/** Reads a DLQ message back into the original message and its reason; throws DeadLetterHeaderError. */
export function parseDeadLetter(msg: Pick<IncomingMessage, 'key' | 'value' | 'headers'>): DeadLetter {
  const h = msg.headers
  const text = (name: string): string => {
    const v = h[name]
    if (v === undefined) throw new DeadLetterHeaderError(name, 'is missing')
    return v
  }
  const integer = (name: string, min: number): number => {
    const v = text(name)
    if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v)))
      throw new DeadLetterHeaderError(name, `is not an integer >= ${min}: ${JSON.stringify(v)}`)
    return Number(v)
  }
  const instant = (name: string): Date => {
    const v = text(name)
    // Date.parse accepts far more than ISO-8601 (and rolls 02-30 over to March); the writer always emits
    // toISOString(), so demand exactly that: the value must survive a round trip.
    const d = new Date(v)
    if (Number.isNaN(d.getTime()) || d.toISOString() !== v) {
      throw new DeadLetterHeaderError(name, `is not an ISO-8601 UTC time: ${JSON.stringify(v)}`)
    }
    return d
  }
  const offset = text(DLQ_HEADERS.originOffset)
  if (!/^\d+$/.test(offset)) throw new DeadLetterHeaderError(DLQ_HEADERS.originOffset, `is not an offset: ${JSON.stringify(offset)}`)

  const originalHeaders: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) if (!DLQ_HEADER_NAMES.has(k)) originalHeaders[k] = v
  return {
    key: msg.key,
    value: msg.value,
    originalHeaders,
    errorClass: text(DLQ_HEADERS.errorClass),
    errorMessage: text(DLQ_HEADERS.errorMessage),
    attempts: integer(DLQ_HEADERS.attempts, 1),
    firstFailureAt: instant(DLQ_HEADERS.firstFailureAt),
    lastFailureAt: instant(DLQ_HEADERS.lastFailureAt),
    origin: { topic: text(DLQ_HEADERS.originTopic), partition: integer(DLQ_HEADERS.originPartition, 0), offset },
  }
}

function describeError(err: unknown): { errorClass: string; errorMessage: string } {
  if (err instanceof Error) {
    // The constructor's name survives subclasses that never set `name` (class OutOfStock extends Error {}).
    const ctor = (err.constructor as { name?: unknown } | undefined)?.name
    return { errorClass: typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' ? ctor : err.name, errorMessage: err.message }
  }
  return { errorClass: err === null ? 'null' : typeof err, errorMessage: String(err) }
}
