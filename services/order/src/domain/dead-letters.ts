/**
 * The DLQ tooling's use cases (list, show, replay, discard), shared by the CLI (src/bin/dlq.ts) and the
 * admin endpoints (src/routes/admin-dlq.ts). docs/adr/0018-dlq-handled-record.md explains the choices:
 * - the DLQ topic is never rewritten; what an operator did with an entry is recorded in Postgres
 *   (orders.dlq_handled) and `list` hides handled entries;
 * - replay re-produces the original key, value and headers to orders.requested, then records it. Replay is
 *   safe to repeat: the worker is idempotent on the order id (one row, one stock decrement, whatever the
 *   number of deliveries). A crash between the produce and the record leaves the entry listed; replaying it
 *   again is harmless for the same reason.
 * - `--all` acts on unhandled entries only; an entry named by partition:offset is acted on even if handled.
 */
import type { DeadLetter, IncomingMessage } from '@flashsale/kafka'

export type DeadLetterAction = 'replayed' | 'discarded'

export interface HandledRecord {
  readonly action: DeadLetterAction
  readonly actor: string
  readonly times: number
  readonly handledAt: string
}

export interface DeadLetterEntry {
  /** `partition:offset` in the DLQ topic. */
  readonly id: string
  readonly partition: number
  readonly offset: string
  readonly key: string | null
  readonly value: string
  readonly originalHeaders: Readonly<Record<string, string>>
  readonly errorClass: string
  readonly errorMessage: string
  readonly attempts: number
  readonly firstFailureAt: string
  readonly lastFailureAt: string
  readonly origin: { readonly topic: string; readonly partition: number; readonly offset: string }
  readonly deadLetteredAt: string
  readonly handled?: HandledRecord
}

export interface DeadLetterDeps {
  readonly topic: string
  /** Every message of the DLQ topic, read from the beginning. */
  readonly read: () => Promise<readonly IncomingMessage[]>
  readonly parse: (msg: IncomingMessage) => DeadLetter
  readonly handled: {
    all(topic: string): Promise<ReadonlyMap<string, HandledRecord>>
    record(topic: string, partition: number, offset: string, action: DeadLetterAction, actor: string): Promise<void>
  }
  /** Produces to orders.requested; resolves once durable. */
  readonly requeue: (message: { key: string | null; value: Buffer; headers: Record<string, string> }) => Promise<void>
  /**
   * For a discarded order that was never persisted: gives its reserved units back at the stock gate (a
   * claimed reservation would otherwise hold them to the end of the sale). Absent: units wait for the TTL.
   */
  readonly abandon?: (value: Buffer) => Promise<void>
}

export type DeadLetterTarget = { readonly partition: number; readonly offset: string } | 'all'

export const entryId = (partition: number, offset: string): string => `${partition}:${offset}`

/** `3:17` → {partition: 3, offset: '17'}; undefined for anything else. Offsets stay strings (64-bit). */
export function parseEntryId(text: string): { partition: number; offset: string } | undefined {
  const m = /^(\d{1,5}):(\d{1,19})$/.exec(text)
  return m ? { partition: Number(m[1]), offset: String(BigInt(m[2]!)) } : undefined
}

async function readEntries(deps: DeadLetterDeps): Promise<{ entry: DeadLetterEntry; msg: IncomingMessage }[]> {
  const [messages, handled] = await Promise.all([deps.read(), deps.handled.all(deps.topic)])
  return messages.map((msg) => {
    const id = entryId(msg.partition, msg.offset)
    let letter: DeadLetter | undefined
    try {
      letter = deps.parse(msg)
    } catch {
      // Not written by our dead-letterer (headers missing): still listed, so it can be seen and discarded.
    }
    const h = handled.get(id)
    const entry: DeadLetterEntry = {
      id,
      partition: msg.partition,
      offset: msg.offset,
      key: msg.key,
      value: msg.value.toString('utf8'),
      originalHeaders: letter?.originalHeaders ?? msg.headers,
      errorClass: letter?.errorClass ?? 'unknown',
      errorMessage: letter?.errorMessage ?? 'no dlq-* headers',
      attempts: letter?.attempts ?? 0,
      firstFailureAt: letter ? letter.firstFailureAt.toISOString() : '',
      lastFailureAt: letter ? letter.lastFailureAt.toISOString() : '',
      origin: letter?.origin ?? { topic: '', partition: -1, offset: '' },
      deadLetteredAt: new Date(msg.timestamp).toISOString(),
      ...(h ? { handled: h } : {}),
    }
    return { entry, msg }
  })
}

export async function listDeadLetters(deps: DeadLetterDeps, { includeHandled = false } = {}): Promise<DeadLetterEntry[]> {
  return (await readEntries(deps)).map((e) => e.entry).filter((e) => includeHandled || !e.handled)
}

export async function showDeadLetter(deps: DeadLetterDeps, partition: number, offset: string): Promise<DeadLetterEntry | undefined> {
  return (await readEntries(deps)).find((e) => e.entry.id === entryId(partition, offset))?.entry
}

async function targets(deps: DeadLetterDeps, target: DeadLetterTarget) {
  const all = await readEntries(deps)
  if (target === 'all') return all.filter((e) => !e.entry.handled)
  const one = all.find((e) => e.entry.id === entryId(target.partition, target.offset))
  return one ? [one] : undefined
}

/** Replays each target in DLQ order; undefined when the named entry does not exist. */
export async function replayDeadLetters(deps: DeadLetterDeps, target: DeadLetterTarget, actor: string): Promise<DeadLetterEntry[] | undefined> {
  const chosen = await targets(deps, target)
  if (!chosen) return undefined
  for (const { entry, msg } of chosen) {
    // Value and key unchanged, the original headers (without dlq-*): the worker sees the order as it was.
    await deps.requeue({ key: msg.key, value: msg.value, headers: { ...entry.originalHeaders } })
    await deps.handled.record(deps.topic, entry.partition, entry.offset, 'replayed', actor)
  }
  return chosen.map((c) => c.entry)
}

export async function discardDeadLetters(deps: DeadLetterDeps, target: DeadLetterTarget, actor: string): Promise<DeadLetterEntry[] | undefined> {
  const chosen = await targets(deps, target)
  if (!chosen) return undefined
  for (const { entry, msg } of chosen) {
    await deps.abandon?.(msg.value)
    await deps.handled.record(deps.topic, entry.partition, entry.offset, 'discarded', actor)
  }
  return chosen.map((c) => c.entry)
}

/** Messages in the DLQ topic minus the handled ones: what an operator still has to look at. */
export function deadLetterDepth(totalInTopic: number, handledCount: number): number {
  return Math.max(0, totalInTopic - handledCount)
}
