/**
 * Events marked on the ops page's charts: a chaos drill's fault and recovery, a demo's flash sale. The
 * scripts append one JSON object per line to a file in the stack's state dir (mark_event in
 * infra/local/lib.sh: {"at": epoch ms, "kind": "chaos", "text": "inject primary"}); the page asks for those
 * since a time. A file, not an API, so that a shell script marks an event with one line and no running
 * server, and a drill that breaks the ops tool still leaves its marks.
 */
import { open } from 'node:fs/promises'

export interface OpsEvent {
  readonly at: number
  readonly kind: string
  readonly text: string
}

/** Read at most this much of the file's end: the page shows the last minutes, never the whole history. */
const TAIL_BYTES = 256 * 1024

/** The events at or after `since` (epoch ms), oldest first, at most `limit`; lines that do not parse are skipped. */
export async function readEvents(file: string, since: number, limit = 200): Promise<OpsEvent[]> {
  let text: string
  try {
    const handle = await open(file, 'r')
    try {
      const { size } = await handle.stat()
      const start = Math.max(0, size - TAIL_BYTES)
      const buffer = Buffer.alloc(size - start)
      await handle.read(buffer, 0, buffer.length, start)
      text = buffer.toString('utf8')
      if (start > 0) text = text.slice(text.indexOf('\n') + 1) // the first line may be cut
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] // nothing marked yet
    throw err
  }
  const events: OpsEvent[] = []
  for (const line of text.split('\n')) {
    const e = parseEvent(line)
    if (e && e.at >= since) events.push(e)
  }
  return events.slice(-limit)
}

export function parseEvent(line: string): OpsEvent | undefined {
  if (line.trim() === '') return undefined
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const { at, kind, text } = v as Record<string, unknown>
  if (typeof at !== 'number' || !Number.isFinite(at) || typeof kind !== 'string' || typeof text !== 'string') return undefined
  return { at, kind: kind.slice(0, 40), text: text.slice(0, 200) }
}
