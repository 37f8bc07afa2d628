/**
 * The shared pieces of every service's contract (services/<name>/src/contract.ts): the problem+json body
 * every error answer has (RFC 9457), and the response entries that say which errors a route answers. One
 * definition, so the OpenAPI documents (@fastify/swagger, served at /openapi.json) and the serializer agree
 * with what sendProblem writes.
 */
import Type, { type TSchema } from 'typebox'
import { DependencyUnavailable, isServiceErrorConstructor, PROBLEM_CONTENT_TYPE, UnstorableText, type ServiceErrorConstructor } from './errors.ts'

/**
 * The codes every service answers through this package, for each service's `ERROR_CODES`: a request that
 * fails its schema (400), text PostgreSQL cannot store (400), a datastore outage (503 + Retry-After). Not
 * listed: NOT_FOUND, FST_* and INTERNAL, which are HTTP-level (`type: about:blank`).
 */
export const SHARED_ERROR_CODES = ['VALIDATION_FAILED', UnstorableText.code, DependencyUnavailable.code] as const

type CodeOf<T> = T extends ServiceErrorConstructor<infer Code> ? Code : never

/**
 * The codes of every error a module defines (`import * as errors from './errors.ts'`), typed by their
 * literals: a service's contract lists what it defined, and can never list a code it did not.
 */
export function errorCodesOf<M extends Record<string, unknown>>(module: M): CodeOf<M[keyof M]>[] {
  return Object.values(module)
    .filter(isServiceErrorConstructor)
    .map((ctor) => ctor.code) as CodeOf<M[keyof M]>[]
}

/**
 * RFC 9457 problem details as toProblem builds them. Extension members (a sale id, a refusal reason, the
 * validation errors) ride along: `additionalProperties` stays open so the serializer keeps them.
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'urn:flashsale:problem:<CODE>, or about:blank for an HTTP-level error' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ description: 'Stable machine-readable code; never reused for another meaning' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            in: Type.String(),
            path: Type.String(),
            message: Type.Optional(Type.String()),
            params: Type.Optional(Type.Object({}, { additionalProperties: true })),
          },
          { additionalProperties: true },
        ),
      ),
    ),
  },
  // One shared schema (app.addSchema by serviceDefaults), referenced by every error answer: the documents carry
  // it once, as components.schemas.Problem, and every route's serializer uses the same one.
  { additionalProperties: true, title: 'Problem', $id: 'Problem' },
)

/** How a route's response refers to ProblemSchema (Fastify shared schemas: https://fastify.dev/docs/latest/Reference/Validation-and-Serialization/#adding-a-shared-schema). */
export const PROBLEM_REF = { $ref: 'Problem#' } as const

const RETRY_AFTER = { 'retry-after': { type: 'integer', minimum: 0, description: 'Seconds to wait before trying again (RFC 9110 §10.2.3)' } }

/** One documented error answer: problem+json, with Retry-After for 503 and 429. */
export function problemResponse(description: string, status?: number) {
  return {
    description,
    ...(status === 503 || status === 429 ? { headers: RETRY_AFTER } : {}),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
  }
}

/**
 * A route's error answers, for its `schema.response`: `{ 404: 'no such product', 503: '...' }`. 400
 * (validation) is added to every route that validates input; 500 is never declared (it is a bug).
 */
export function problemResponses(errors: Readonly<Record<number, string>>, { validates = true } = {}) {
  const all: Record<number, string> = { ...errors }
  if (validates && all[400] === undefined)
    all[400] = 'The request is not valid (VALIDATION_FAILED; `errors` names each field), or holds text that cannot be stored (SERVICE_ERR_UNSTORABLE_TEXT)'
  return Object.fromEntries(Object.entries(all).map(([status, description]) => [status, problemResponse(description, Number(status))]))
}

/** A success answer with a JSON body. */
export function jsonResponse<T extends TSchema>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } }
}

const CheckResult = Type.Object(
  { status: Type.Union([Type.Literal('up'), Type.Literal('down')]), error: Type.Optional(Type.String()) },
  { additionalProperties: false },
)

/** The health endpoints' answers (not problem+json: a load balancer reads them, and 503 is a state). */
export const HEALTH_SCHEMAS = {
  live: {
    summary: 'Liveness: the process answers',
    tags: ['operations'],
    response: { 200: jsonResponse('Alive', Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false, title: 'Liveness' })) },
  },
  ready: (() => {
    const Readiness = Type.Object(
      {
        status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready'), Type.Literal('draining')]),
        checks: Type.Record(Type.String(), CheckResult),
      },
      { additionalProperties: false, title: 'Readiness' },
    )
    return {
      summary: 'Readiness: this instance can serve its core route (ADR 0028)',
      tags: ['operations'],
      response: { 200: jsonResponse('Ready', Readiness), 503: jsonResponse('Not ready, or draining before shutdown', Readiness) },
    }
  })(),
  deps: (() => {
    const Dependencies = Type.Object(
      { status: Type.Union([Type.Literal('up'), Type.Literal('degraded')]), dependencies: Type.Record(Type.String(), CheckResult) },
      { additionalProperties: false, title: 'Dependencies' },
    )
    return {
      summary: 'Shared dependencies (datastores): reported, never part of readiness',
      tags: ['operations'],
      response: { 200: jsonResponse('Every dependency answers', Dependencies), 503: jsonResponse('Some dependency does not answer', Dependencies) },
    }
  })(),
}
