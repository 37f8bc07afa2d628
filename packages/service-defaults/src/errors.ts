/**
 * Errors as API: each service declares its errors once (code, HTTP status, message) in its own
 * errors.ts with `defineError`, and one handler turns every error into RFC 9457 problem+json.
 * Codes are stable and never reused; clients match on `code`, never on message text.
 */
import createError from '@fastify/error'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

const SERVICE_ERROR = Symbol.for('flashsale.service-error')

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface ServiceError extends FastifyError {
  readonly statusCode: number
  /** Seconds for a Retry-After header (RFC 9110 §10.2.3), for 429/503. */
  retryAfterSeconds?: number
  /** Extra members for the problem body (e.g. the limit that was hit). */
  details?: Record<string, unknown>
}

export interface ServiceErrorConstructor<Code extends string = string> {
  new (...args: unknown[]): ServiceError
  (...args: unknown[]): ServiceError
  /** The code as its literal type, so a contract's list of codes is typed by what was defined. */
  readonly code: Code
  readonly statusCode: number
}

export interface ErrorDefinitionOptions {
  /**
   * The Retry-After (seconds) every instance answers with unless it sets its own (`retryAfterSeconds` on the
   * error): an error that means "not now" says when, in one place, not at each throw.
   */
  readonly retryAfterSeconds?: number
}

/**
 * defineError('ORDER_ERR_SOLD_OUT', 409, 'SKU %s is sold out') → a constructor; `%s` are filled from
 * the arguments. Errors made this way are shown to clients as they are, whatever their status.
 * Only 5xx errors capture a stack trace: a 4xx is an answer, not a fault, and a flash sale answers
 * thousands of them a second (a captured stack costs ~5 µs; none, ~0.2 µs).
 */
export function defineError<Code extends string>(
  code: Code,
  statusCode: number,
  message: string,
  { retryAfterSeconds }: ErrorDefinitionOptions = {},
): ServiceErrorConstructor<Code> {
  const Ctor = createError(code, message, statusCode, Error, statusCode >= 500)
  Object.defineProperty(Ctor.prototype, SERVICE_ERROR, { value: true })
  if (retryAfterSeconds !== undefined) Object.defineProperty(Ctor.prototype, 'retryAfterSeconds', { value: retryAfterSeconds, writable: true })
  return Object.assign(Ctor, { code, statusCode }) as unknown as ServiceErrorConstructor<Code>
}

/** A datastore did not answer (PostgreSQL, Redis): the shared error handler's answer to an outage it was not told about. */
export const DependencyUnavailable = defineError(
  'SERVICE_ERR_DEPENDENCY_UNAVAILABLE',
  503,
  'A datastore this request needs is unavailable right now; retry shortly',
)

/**
 * The request holds text PostgreSQL cannot store (U+0000: its text types forbid it, SQLSTATE 22021
 * character_not_in_repertoire; or a character the encoding lacks, 22P05). A schema pattern should refuse it
 * first; this is the shared handler's safety net for every string no pattern guards (a review's body, a
 * title), so hostile input is a 400, never a 500. https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const UnstorableText = defineError('SERVICE_ERR_UNSTORABLE_TEXT', 400, 'The request holds a character that cannot be stored (such as U+0000)')

export function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return !isServiceError(err) && (code === '22021' || code === '22P05')
}

/** Whether `value` is a constructor made by defineError. */
export function isServiceErrorConstructor(value: unknown): value is ServiceErrorConstructor {
  return typeof value === 'function' && (value.prototype as Record<symbol, unknown> | undefined)?.[SERVICE_ERROR] === true
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[SERVICE_ERROR] === true
}

export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  instance: string
  code: string
  requestId: string
  [extension: string]: unknown
}

/** `urn:flashsale:problem:<code>`: stable and non-resolvable; docs/errors.md lists every code. */
export function problemType(code: string): string {
  return `urn:flashsale:problem:${code}`
}

interface ValidationIssue {
  instancePath?: string
  message?: string
  params?: Record<string, unknown>
}

/** Builds the problem for any error; 5xx that are not ours are reported without internals. */
export function toProblem(err: FastifyError, request: FastifyRequest): Problem {
  const base = { instance: request.url, requestId: String(request.id) }
  if (err.validation) {
    const where = err.validationContext ?? 'request'
    return {
      ...base,
      type: problemType('VALIDATION_FAILED'),
      title: 'The request is not valid',
      status: 400,
      detail: `${where} ${err.validation.map((v: ValidationIssue) => `${v.instancePath || ''} ${v.message ?? ''}`.trim()).join('; ')}`,
      code: 'VALIDATION_FAILED',
      errors: err.validation.map((v: ValidationIssue) => ({ in: where, path: v.instancePath || '/', message: v.message, params: v.params })),
    }
  }
  if (isServiceError(err)) {
    return { ...(err.details ?? {}), ...base, type: problemType(err.code), title: err.message, status: err.statusCode, code: err.code }
  }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
  if (status < 500) {
    // Fastify's own client errors: bad JSON, unsupported media type, body too large, ...
    return { ...base, type: 'about:blank', title: err.message, status, code: err.code ?? 'BAD_REQUEST' }
  }
  return { ...base, type: 'about:blank', title: 'Internal Server Error', status, code: 'INTERNAL', detail: 'The error was logged with this requestId.' }
}

export function sendProblem(reply: FastifyReply, problem: Problem, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(0, Math.ceil(retryAfterSeconds))))
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}
