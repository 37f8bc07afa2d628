/** orders.dlq_handled (migrations/0002): what an operator did with each dead letter. */
import type { Database } from '@flashsale/db'
import type { DeadLetterAction, DeadLetterDeps, HandledRecord } from '../domain/dead-letters.ts'
import { entryId } from '../domain/dead-letters.ts'

export interface DeadLetterHandledStore extends Pick<DeadLetterDeps, 'handled'> {
  count(topic: string): Promise<number>
}

export function createDeadLetterHandledStore(db: Database): DeadLetterHandledStore {
  return {
    handled: {
      async all(topic) {
        const { rows } = await db.query<{ partition: number; offset: string; action: DeadLetterAction; actor: string; times: number; handled_at: Date }>(
          'SELECT partition, "offset"::text AS offset, action, actor, times, handled_at FROM orders.dlq_handled WHERE topic = $1',
          [topic],
        )
        return new Map<string, HandledRecord>(
          rows.map((r) => [entryId(r.partition, r.offset), { action: r.action, actor: r.actor, times: r.times, handledAt: r.handled_at.toISOString() }]),
        )
      },
      async record(topic, partition, offset, action, actor) {
        await db.query(
          `INSERT INTO orders.dlq_handled (topic, partition, "offset", action, actor) VALUES ($1, $2, $3::bigint, $4, $5)
           ON CONFLICT (topic, partition, "offset") DO UPDATE
             SET action = EXCLUDED.action, actor = EXCLUDED.actor, times = orders.dlq_handled.times + 1, handled_at = now()`,
          [topic, partition, offset, action, actor],
        )
      },
    },
    async count(topic) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders.dlq_handled WHERE topic = $1', [topic])
      return rows[0]?.n ?? 0
    },
  }
}
