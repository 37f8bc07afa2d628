/**
 * The cache's Prometheus series, registered in the registry the service passes (never prom-client's
 * global one). Several caches share a registry: each series carries `cache` (the cache's name), and the
 * collectors are made once per registry and reused.
 */
import { LATENCY_BUCKETS } from '@flashsale/metrics'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export type CacheLevel = 'l1' | 'l2'
export type StaleReason = 'revalidate' | 'error'
export type LoadOutcome = 'found' | 'not_found' | 'error'
export type RedisFailure = 'error' | 'timeout' | 'circuit_open'

export interface CacheMetrics {
  hit(level: CacheLevel): void
  miss(level: CacheLevel): void
  staleServed(reason: StaleReason): void
  earlyRefresh(): void
  coalesced(): void
  load(outcome: LoadOutcome, seconds: number): void
  promoted(): void
  bloomRejected(): void
  writeRejected(): void
  redisFailure(failure: RedisFailure): void
  invalidated(origin: 'local' | 'remote', keys: number): void
  /** Stops reporting this cache's L1 size. */
  close(): void
}

const l1Sizes = new WeakMap<Registry, Map<string, () => number>>()

function getOrCreate<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make()
}

/** Returns undefined when a cache of that name already reports on this registry. */
export function createCacheMetrics(registry: Registry, cache: string, l1Size: () => number): CacheMetrics | undefined {
  let sizes = l1Sizes.get(registry)
  if (!sizes) l1Sizes.set(registry, (sizes = new Map()))
  if (sizes.has(cache)) return undefined
  sizes.set(cache, l1Size)
  const registers = [registry]

  const hits = getOrCreate(
    registry,
    'cache_hits_total',
    () =>
      new Counter({
        name: 'cache_hits_total',
        help: 'Reads answered by a cache level (negative entries included)',
        labelNames: ['cache', 'level'] as const,
        registers,
      }),
  )
  const misses = getOrCreate(
    registry,
    'cache_misses_total',
    () =>
      new Counter({
        name: 'cache_misses_total',
        help: 'Reads a cache level could not answer with a fresh value',
        labelNames: ['cache', 'level'] as const,
        registers,
      }),
  )
  const stale = getOrCreate(
    registry,
    'cache_stale_served_total',
    () =>
      new Counter({
        name: 'cache_stale_served_total',
        help: 'Expired values served within the grace period: while revalidating, or because the loader failed',
        labelNames: ['cache', 'reason'] as const,
        registers,
      }),
  )
  const early = getOrCreate(
    registry,
    'cache_early_refreshes_total',
    () => new Counter({ name: 'cache_early_refreshes_total', help: 'Refreshes started before expiry by XFetch', labelNames: ['cache'] as const, registers }),
  )
  const coalesced = getOrCreate(
    registry,
    'cache_coalesced_waiters_total',
    () =>
      new Counter({
        name: 'cache_coalesced_waiters_total',
        help: 'Reads that joined a load already in flight in this process (singleflight)',
        labelNames: ['cache'] as const,
        registers,
      }),
  )
  const loads = getOrCreate(
    registry,
    'cache_load_duration_seconds',
    () =>
      new Histogram({
        name: 'cache_load_duration_seconds',
        help: 'Loader (database) calls by outcome',
        labelNames: ['cache', 'outcome'] as const,
        buckets: LATENCY_BUCKETS,
        registers,
      }),
  )
  const promoted = getOrCreate(
    registry,
    'cache_hot_keys_promoted_total',
    () => new Counter({ name: 'cache_hot_keys_promoted_total', help: 'Hot keys copied into the in-process L1', labelNames: ['cache'] as const, registers }),
  )
  const bloom = getOrCreate(
    registry,
    'cache_bloom_rejections_total',
    () =>
      new Counter({
        name: 'cache_bloom_rejections_total',
        help: 'Reads of ids the Bloom filter says cannot exist, answered without the loader',
        labelNames: ['cache'] as const,
        registers,
      }),
  )
  const rejected = getOrCreate(
    registry,
    'cache_writes_rejected_total',
    () =>
      new Counter({
        name: 'cache_writes_rejected_total',
        help: 'Loaded values not written to Redis because the entry changed meanwhile (an invalidation won the race)',
        labelNames: ['cache'] as const,
        registers,
      }),
  )
  const redisFailures = getOrCreate(
    registry,
    'cache_redis_failures_total',
    () =>
      new Counter({
        name: 'cache_redis_failures_total',
        help: 'Redis calls that failed open (error, timeout, or skipped while the circuit is open)',
        labelNames: ['cache', 'failure'] as const,
        registers,
      }),
  )
  const invalidations = getOrCreate(
    registry,
    'cache_invalidations_total',
    () =>
      new Counter({
        name: 'cache_invalidations_total',
        help: 'Keys invalidated, by this process or by another instance (pub/sub)',
        labelNames: ['cache', 'origin'] as const,
        registers,
      }),
  )
  getOrCreate(
    registry,
    'cache_l1_entries',
    () =>
      new Gauge({
        name: 'cache_l1_entries',
        help: 'Entries in the in-process L1',
        labelNames: ['cache'] as const,
        registers,
        collect() {
          this.reset()
          for (const [name, size] of l1Sizes.get(registry) ?? []) this.set({ cache: name }, size())
        },
      }),
  )

  return {
    hit: (level) => hits.inc({ cache, level }),
    miss: (level) => misses.inc({ cache, level }),
    staleServed: (reason) => stale.inc({ cache, reason }),
    earlyRefresh: () => early.inc({ cache }),
    coalesced: () => coalesced.inc({ cache }),
    load: (outcome, seconds) => loads.observe({ cache, outcome }, seconds),
    promoted: () => promoted.inc({ cache }),
    bloomRejected: () => bloom.inc({ cache }),
    writeRejected: () => rejected.inc({ cache }),
    redisFailure: (failure) => redisFailures.inc({ cache, failure }),
    invalidated: (origin, keys) => invalidations.inc({ cache, origin }, keys),
    close: () => void l1Sizes.get(registry)?.delete(cache),
  }
}
