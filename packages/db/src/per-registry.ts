import type { Registry } from 'prom-client'

/**
 * One set of metric objects per registry, made on first use: prom-client refuses a second metric of the same
 * name in a registry, and several pools, routers or primary pools (or ones re-created in a test) share one.
 */
export function perRegistry<T>(make: (registry: Registry) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>()
  return (registry) => {
    let metrics = made.get(registry)
    if (metrics === undefined) {
      metrics = make(registry)
      made.set(registry, metrics)
    }
    return metrics
  }
}
