/**
 * DLQ tooling over HTTP, admin only (the same use cases as the CLI, src/bin/dlq.ts):
 *   GET  /admin/dlq[?all=true]                    unhandled dead letters (all=true: handled ones too) + depth
 *   GET  /admin/dlq/:partition/:offset             one dead letter
 *   POST /admin/dlq/replay  {partition, offset} | {all: true}   re-produce to orders.requested
 *   POST /admin/dlq/discard {partition, offset} | {all: true}   record as discarded
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import type { DeadLetterTooling } from '../clients/dead-letter-tooling.ts'
import {
  DeadLetter,
  DeadLetterList,
  DeadLetterListQuery,
  DeadLetterParams,
  DeadLettersDiscarded,
  DeadLettersReplayed,
  DeadLetterTargetBody,
} from '../contract.ts'
import { discardDeadLetters, listDeadLetters, replayDeadLetters, showDeadLetter, type DeadLetterTarget } from '../domain/dead-letters.ts'
import { DeadLetterNotFound, DeadLetterTargetInvalid } from '../errors.ts'

const tags = ['order']
const ADMIN = { 401: 'No valid bearer token', 403: 'The token lacks the admin role' }
const UNAVAILABLE = 'Kafka or the database is unavailable (SERVICE_ERR_DEPENDENCY_UNAVAILABLE)'
const SCHEMAS = {
  list: {
    summary: 'Dead letters of orders.requested not yet handled (all=true: handled ones too), and the DLQ depth',
    tags,
    querystring: DeadLetterListQuery,
    response: { 200: jsonResponse('The dead letters, in DLQ order', DeadLetterList), ...problemResponses({ ...ADMIN, 503: UNAVAILABLE }) },
  },
  show: {
    summary: 'One dead letter',
    tags,
    params: DeadLetterParams,
    response: {
      200: jsonResponse('The dead letter', DeadLetter),
      ...problemResponses({ ...ADMIN, 404: 'No dead letter at partition:offset (ORDER_ERR_DEAD_LETTER_NOT_FOUND)', 503: UNAVAILABLE }),
    },
  },
  replay: {
    summary: 'Re-produces one dead letter ({partition, offset}) or every unhandled one ({all: true}) to orders.requested',
    tags,
    body: DeadLetterTargetBody,
    response: {
      200: jsonResponse('Replayed, and recorded as handled', DeadLettersReplayed),
      ...targetErrors(),
    },
  },
  discard: {
    summary: "Records one dead letter ({partition, offset}) or every unhandled one ({all: true}) as discarded, giving back an unpersisted order's reservation",
    tags,
    body: DeadLetterTargetBody,
    response: {
      200: jsonResponse('Discarded, and recorded as handled', DeadLettersDiscarded),
      ...targetErrors(),
    },
  },
}

function targetErrors() {
  return problemResponses({
    ...ADMIN,
    400: 'The request is not valid (VALIDATION_FAILED), or it names neither one dead letter nor all (ORDER_ERR_DEAD_LETTER_TARGET)',
    404: 'No dead letter at partition:offset (ORDER_ERR_DEAD_LETTER_NOT_FOUND)',
    413: 'The body is over 1 KiB',
    503: UNAVAILABLE,
  })
}

function target(body: DeadLetterTargetBody): DeadLetterTarget {
  const one = body.partition !== undefined && body.offset !== undefined
  if (body.all === true && body.partition === undefined && body.offset === undefined) return 'all'
  if (one && body.all === undefined) return { partition: body.partition!, offset: String(BigInt(body.offset!)) }
  throw new DeadLetterTargetInvalid()
}

export async function adminDlqRoutes(app: FastifyInstance, { dlq }: { dlq: DeadLetterTooling }): Promise<void> {
  const actor = (userId: string) => `api:${userId}`

  app.get<{ Querystring: DeadLetterListQuery }>('/admin/dlq', { onRequest: app.requireAdmin, schema: SCHEMAS.list }, async (request) => {
    const [entries, depth] = await Promise.all([listDeadLetters(dlq, { includeHandled: request.query.all === true }), dlq.depth()])
    return { topic: dlq.topic, depth, entries } satisfies Static<typeof DeadLetterList>
  })

  app.get<{ Params: DeadLetterParams }>('/admin/dlq/:partition/:offset', { onRequest: app.requireAdmin, schema: SCHEMAS.show }, async (request) => {
    const { partition, offset } = request.params
    const entry = await showDeadLetter(dlq, partition, String(BigInt(offset)))
    if (!entry) throw new DeadLetterNotFound(`${partition}:${offset}`)
    return entry satisfies Static<typeof DeadLetter>
  })

  for (const action of ['replay', 'discard'] as const) {
    app.post<{ Body: DeadLetterTargetBody }>(
      `/admin/dlq/${action}`,
      { onRequest: app.requireAdmin, bodyLimit: 1024, schema: SCHEMAS[action] },
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
