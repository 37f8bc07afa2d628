/**
 * The instances of one upstream and which of them may be called: one undici keep-alive Pool each, a balancer,
 * and two reasons to take an instance out, passive outlier ejection (consecutive failed calls) and active
 * health checks (GET /health/ready). When every instance is out and some only for failed calls, those are
 * still called (Envoy's panic routing) rather than refusing everything for the whole ejection time.
 */
import { Pool } from 'undici'
import { createBalancer, createOutlierDetector, type Instance } from '@flashsale/balancer'
import type { Config } from '../config.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { UpstreamDefinition } from '../route-table.ts'
import type { UpstreamLog } from './upstream.ts'

export interface InstanceSnapshot {
  readonly id: string
  readonly url: string
  readonly available: boolean
  readonly healthCheckEjected: boolean
  readonly outlierEjected: boolean
  readonly inflight: number
}

export interface UpstreamInstances {
  /** An instance to call for this client, or undefined when none may be called. */
  pick(context: { readonly clientIp: string }): Instance | undefined
  pool(instance: Instance): Pool
  /** The outcome of one call, for the balancer and outlier ejection. */
  report(instance: Instance, latencyMs: number, ok: boolean): void
  readonly algorithm: string
  /** One round of health checks on every instance. */
  checkHealth(): Promise<void>
  startHealthChecks(intervalMs: number): void
  snapshot(): InstanceSnapshot[]
  close(): Promise<void>
}

export function createInstances(name: string, def: UpstreamDefinition, config: Config, metrics: GatewayMetrics, log: UpstreamLog): UpstreamInstances {
  const instances: Instance[] = def.instances.map((url) => {
    const origin = new URL(url).origin
    return { id: new URL(url).host, url: origin, weight: def.weights?.[url] ?? 1 }
  })
  const pools = new Map(
    instances.map((i) => [i.id, new Pool(i.url, { connections: config.UPSTREAM_CONNECTIONS, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 })]),
  )
  const balancer = createBalancer(def.balancing, instances)

  // Two reasons to take an instance out: the active health check, and passive outlier ejection.
  const healthDown = new Set<string>()
  const outlierDown = new Set<string>()
  const sync = (id: string) => {
    const available = !healthDown.has(id) && !outlierDown.has(id)
    balancer.setAvailable(id, available)
    metrics.instanceAvailable.set({ upstream: name, upstream_instance: id }, available ? 1 : 0)
  }
  for (const i of instances) sync(i.id)
  const outliers = createOutlierDetector({
    hosts: instances.map((i) => i.id),
    consecutiveFailures: config.OUTLIER_CONSECUTIVE_FAILURES,
    baseEjectionMs: config.OUTLIER_BASE_EJECTION_MS,
    onEject: (id, info) => {
      outlierDown.add(id)
      sync(id)
      metrics.ejections.inc({ upstream: name, upstream_instance: id, source: 'outlier' })
      log.warn({ upstream: name, instance: id, ms: info.durationMs, times: info.times }, 'instance ejected: consecutive failures')
    },
    onRestore: (id) => {
      outlierDown.delete(id)
      sync(id)
      metrics.failbacks.inc({ upstream: name, upstream_instance: id, source: 'outlier' })
    },
  })

  // Active health checks: GET /health/ready on every instance; `unhealthy` failures in a row eject it,
  // `healthy` passes bring it back (and end an outlier ejection early, as Envoy does by default).
  const streaks = new Map(instances.map((i) => [i.id, { fails: 0, passes: 0 }]))
  async function checkHealth(): Promise<void> {
    await Promise.all(
      instances.map(async (i) => {
        let healthy = false
        try {
          const res = await pools.get(i.id)!.request({ method: 'GET', path: '/health/ready', signal: AbortSignal.timeout(config.HEALTH_CHECK_TIMEOUT_MS) })
          await res.body.dump()
          healthy = res.statusCode === 200
        } catch {
          // refused, reset or timed out: unhealthy
        }
        const s = streaks.get(i.id)!
        if (healthy) {
          s.fails = 0
          s.passes++
          if (s.passes >= config.HEALTH_HEALTHY_THRESHOLD) {
            if (healthDown.delete(i.id)) {
              sync(i.id)
              metrics.failbacks.inc({ upstream: name, upstream_instance: i.id, source: 'health_check' })
              log.info({ upstream: name, instance: i.id }, 'instance healthy again: failback')
            }
            if (outlierDown.has(i.id)) outliers.restore(i.id)
          }
        } else {
          s.passes = 0
          s.fails++
          if (s.fails >= config.HEALTH_UNHEALTHY_THRESHOLD && !healthDown.has(i.id)) {
            healthDown.add(i.id)
            sync(i.id)
            metrics.ejections.inc({ upstream: name, upstream_instance: i.id, source: 'health_check' })
            log.warn({ upstream: name, instance: i.id }, 'instance failed its health checks: ejected')
          }
        }
      }),
    )
    outliers.sweep()
  }

  let timer: NodeJS.Timeout | undefined
  let checking = false
  return {
    pick(context) {
      const instance = balancer.pick(context)
      if (instance || outlierDown.size === 0) return instance
      // Every instance is out and some only for failed calls: keep calling those rather than refuse everything
      // for the whole ejection time (with one instance, a few timeouts under load would otherwise be a 30 s
      // outage). An instance failing its health check stays out.
      const panic = balancer.pickInPanic(context, (i) => !healthDown.has(i.id))
      if (panic) metrics.panicRouted.inc({ upstream: name })
      return panic
    },
    pool: (instance) => pools.get(instance.id)!,
    report(instance, latencyMs, ok) {
      balancer.report(instance, { latencyMs, ok })
      outliers.report(instance.id, ok)
    },
    algorithm: balancer.algorithm,
    checkHealth,
    startHealthChecks(intervalMs) {
      if (intervalMs <= 0 || timer) return
      timer = setInterval(() => {
        if (checking) return
        checking = true
        checkHealth().finally(() => (checking = false))
      }, intervalMs)
      timer.unref()
    },
    snapshot: () =>
      instances.map((i) => ({
        id: i.id,
        url: i.url,
        available: balancer.isAvailable(i.id),
        healthCheckEjected: healthDown.has(i.id),
        outlierEjected: outlierDown.has(i.id),
        inflight: balancer.inflight(i.id),
      })),
    async close() {
      if (timer) clearInterval(timer)
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => p.destroy())))
    },
  }
}
