/**
 * DLQ tooling over HTTP, admin only (the same use cases as the CLI, src/bin/dlq.ts):
 *   GET  /admin/dlq[?all=true]                    unhandled dead letters (all=true: handled ones too) + depth
 *   GET  /admin/dlq/:partition/:offset             one dead letter
 *   POST /admin/dlq/replay  {partition, offset} | {all: true}   re-produce to orders.requested
 *   POST /admin/dlq/discard {partition, offset} | {all: true}   record as discarded
 */
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { discardDeadLetters, listDeadLetters, replayDeadLetters, showDeadLetter, type DeadLetterTarget } from '../domain/dead-letters.ts'
import type { DeadLetterTooling } from '../dead-letter-tooling.ts'
import { DeadLetterNotFound, DeadLetterTargetInvalid } from '../errors.ts'

const ListQuery = Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
const EntryParams = Type.Object(
  { partition: Type.Integer({ minimum: 0, maximum: 99_999 }), offset: Type.String({ pattern: '^[0-9]{1,19}$' }) },
  { additionalProperties: false },
)
const TargetBody = Type.Object(
  {
    partition: Type.Optional(Type.Integer({ minimum: 0, maximum: 99_999 })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
    all: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
)

function target(body: Static<typeof TargetBody>): DeadLetterTarget {
  const one = body.partition !== undefined && body.offset !== undefined
  if (body.all === true && body.partition === undefined && body.offset === undefined) return 'all'
  if (one && body.all === undefined) return { partition: body.partition!, offset: String(BigInt(body.offset!)) }
  throw new DeadLetterTargetInvalid()
}

export async function adminDlqRoutes(app: FastifyInstance, { dlq }: { dlq: DeadLetterTooling }): Promise<void> {
  const actor = (userId: string) => `api:${userId}`

  app.get<{ Querystring: Static<typeof ListQuery> }>('/admin/dlq', { onRequest: app.requireAdmin, schema: { querystring: ListQuery } }, async (request) => {
    const [entries, depth] = await Promise.all([listDeadLetters(dlq, { includeHandled: request.query.all === true }), dlq.depth()])
    return { topic: dlq.topic, depth, entries }
  })

  app.get<{ Params: Static<typeof EntryParams> }>(
    '/admin/dlq/:partition/:offset',
    { onRequest: app.requireAdmin, schema: { params: EntryParams } },
    async (request) => {
      const { partition, offset } = request.params
      const entry = await showDeadLetter(dlq, partition, String(BigInt(offset)))
      if (!entry) throw new DeadLetterNotFound(`${partition}:${offset}`)
      return entry
    },
  )

  for (const action of ['replay', 'discard'] as const) {
    app.post<{ Body: Static<typeof TargetBody> }>(
      `/admin/dlq/${action}`,
      { onRequest: app.requireAdmin, bodyLimit: 1024, schema: { body: TargetBody } },
      async (request) => {
        const t = target(request.body)
        const run = action === 'replay' ? replayDeadLetters : discardDeadLetters
        const done = await run(dlq, t, actor(request.user!.userId))
        if (!done) throw new DeadLetterNotFound(t === 'all' ? 'all' : `${t.partition}:${t.offset}`)
        return { [action === 'replay' ? 'replayed' : 'discarded']: done.map((e) => e.id) }
      },
    )
  }
}
