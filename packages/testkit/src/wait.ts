/** Small test helpers every suite needs: bounded polling for asynchronous outcomes, and reading a metric. */
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
