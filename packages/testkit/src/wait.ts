/** Small test helpers every suite needs: bounded polling for asynchronous outcomes, reading a metric, checking a problem+json answer. */
import type { Registry } from 'prom-client'

/** Polls `probe` until it holds, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** The value of one labelled series of a metric, 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
  return match?.value ?? 0
}

/** What assertProblem reads of an answer: app.inject()'s response is one. */
export interface AnswerLike {
  readonly statusCode: number
  readonly headers: Record<string, unknown>
  readonly body: string
  json(): unknown
}

/** Asserts an RFC 9457 problem+json answer with this status (and code, when given); returns its body. */
export function assertProblem(res: AnswerLike, status: number, code?: string): Record<string, unknown> {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`)
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${res.headers['content-type']}`)
  const body = res.json() as Record<string, unknown>
  if (code !== undefined && body['code'] !== code) throw new Error(`expected code ${code}, got ${String(body['code'])}`)
  return body
}
