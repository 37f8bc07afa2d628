/**
 * Cache-aside over two levels — L1 in this process (hot keys only, bounded, short TTL) and L2 in Redis
 * (shared by every instance) — with delete-on-write invalidation. See ../README.md for the design and
 * docs/adr/0007-cache-design.md for the decisions.
 *
 * A read, in order:
 *   L1 fresh ─────────────────────────────────────────────► value (XFetch may start a background refresh)
 *   singleflight: one L2 read + load per key per process; the other callers wait for it
 *   L2 fresh ─────────────────────────────────────────────► value (promoted to L1 if hot; XFetch as above)
 *   L2 expired, within staleWhileRevalidate ──────────────► stale value; one background refresh (Redis lock)
 *   L2 expired, within staleIfError ──────────────────────► load; if the loader fails, the stale value
 *   Bloom filter says "cannot exist" ─────────────────────► undefined, no load
 *   otherwise ────────────────────────────────────────────► load, write to L2 if the entry's token is unchanged
 *
 * The write-back race (a read that loaded the old row writing it back after the writer's delete) is
 * closed by a per-entry version token: every L2 entry — value, or a bare "lease" a loader creates before
 * it reads the database — carries a random token, and a loaded value is written only if the token it
 * started from is still there (one Lua compare-and-set). An invalidation DELetes the entry, so no older
 * token can match again; the first loader after it creates a new lease and reads the committed row.
 *
 * Why one file: one read path. L1, L2, singleflight, stale-while-revalidate and early refresh all act on the
 *   same entry in a set order; split, each step would need the others' state passed around.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { BrokenCircuitError, SamplingBreaker, TaskCancelledError, TimeoutStrategy, circuitBreaker, handleAll, timeout, wrap } from 'cockatiel'
import type { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import type { Registry } from 'prom-client'
import type { BloomFilter } from './bloom.ts'
import { CacheError } from './errors.ts'
import { jitterTtl, shouldRefreshEarly } from './expiry.ts'
import { createHotKeyDetector, type HotKeyOptions } from './hot-keys.ts'
import { createCacheMetrics, type CacheMetrics } from './metrics.ts'
import { runScript, type LuaScript } from '@flashsale/redis'
import { createSingleflight } from './singleflight.ts'

/** Loads one key from the source of truth; `undefined` means "no such row" (cached negatively). */
export type Loader<T> = (key: string) => Promise<T | undefined>

export interface ReadOptions {
  /** How long a loaded value is fresh, before jitter. */
  readonly ttlMs?: number
  /** After expiry, serve the stale value at once while one background refresh runs (RFC 5861). Default 0. */
  readonly staleWhileRevalidateMs?: number
  /** After expiry, load synchronously but answer with the stale value if the loader fails (RFC 5861). Default 0. */
  readonly staleIfErrorMs?: number
  /** How long "not found" is cached. Default min(ttlMs, 5 s). */
  readonly negativeTtlMs?: number
}

export interface CacheOptions extends ReadOptions {
  /** Names the cache in metrics and, by default, in its Redis keys. Unique per metrics registry. */
  readonly name: string
  readonly redis: Redis
  readonly registry: Registry
  readonly ttlMs: number
  /** Redis key prefix of this cache's entries and its pub/sub channel. Default `cache:<name>:`. */
  readonly prefix?: string
  /**
   * A connection of its own for SUBSCRIBE (e.g. `redis.duplicate()`): invalidations published by other
   * instances then drop this process's L1 copies. Without it, other instances' invalidations reach
   * this process's L1 only when its entries expire (l1.ttlMs).
   */
  readonly subscriber?: Redis
  /** TTL jitter, ± this fraction. Default 0.1. */
  readonly jitter?: number
  /** XFetch beta. Default 1 (the paper's optimum). */
  readonly beta?: number
  readonly l1?: { readonly maxEntries?: number; readonly ttlMs?: number }
  /** When a key counts as hot (and is copied into L1). Default 10 reads within 1 s. */
  readonly hotKeys?: HotKeyOptions
  /** Existence filter over the keys (ids): a key it rules out is answered `undefined` without a load. */
  readonly bloom?: BloomFilter
  /** How long a loader's lease lives in Redis; a load slower than this is returned but not cached. Default 10 s. */
  readonly leaseMs?: number
  /** How long one instance may hold a key's refresh lock. Default 10 s. */
  readonly refreshLockMs?: number
  /** Per Redis call, after which the read fails open to the loader. Default 500 ms. */
  readonly redisTimeoutMs?: number
  /** Once half the Redis calls of the last 5 s failed, skip Redis for this long before probing again. Default 1 s. */
  readonly redisRetryAfterMs?: number
}

export interface Cache<T> {
  readonly name: string
  /**
   * The value of `key`: from L1, else L2, else `loader` (one call per key per process at a time).
   * Concurrent callers of one key share the first caller's loader and options.
   */
  get(key: string, loader: Loader<T>, options?: ReadOptions): Promise<T | undefined>
  /**
   * Delete-on-write: call after the database transaction has committed. Deletes the L2 entries (so no
   * load that started earlier can write back), drops this process's L1 copies and in-flight loads, and
   * publishes the keys so other instances drop theirs. Rejects with CACHE_ERR_INVALIDATION_FAILED when
   * Redis did not take it; L1 is dropped regardless. Idempotent: retrying is safe.
   */
  invalidate(keys: string | readonly string[]): Promise<void>
  /** Resolves once invalidations from other instances are being received (at once without a subscriber). */
  ready(): Promise<void>
  /** Stops listening and reporting; does not close the Redis connections (the caller owns them). */
  close(): Promise<void>
}

interface Entry<T> {
  readonly value: T | undefined
  /** Epoch ms. */
  readonly expiresAt: number
  readonly deltaMs: number
  /** The L2 entry's version token this copy came from. */
  readonly token: string
}

/** What a read or refresh knew when it started, to decide whether its result may still be kept. */
interface Operation {
  readonly epoch: number
}

// KEYS[1] entry. ARGV: new token, lease ms. Returns the entry's token, creating a bare lease if none.
const LEASE: LuaScript = {
  name: 'flashsaleCacheLease',
  keys: 1,
  lua: `
local t = redis.call('HGET', KEYS[1], 't')
if t then return t end
redis.call('HSET', KEYS[1], 't', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return ARGV[1]`,
}
// KEYS[1] entry. ARGV: expected token, new token, payload, ttl ms. 1 if written, 0 if the entry changed.
const SET_IF_TOKEN: LuaScript = {
  name: 'flashsaleCacheSetIfToken',
  keys: 1,
  lua: `
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[2], 'p', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`,
}
// KEYS: entry, its refresh lock. ARGV: the token the refresh starts from, our lock token, lock ms.
// 1: locked, ours to refresh. 0: another instance is refreshing. -1: the entry changed meanwhile
// (refreshed elsewhere, or invalidated): nothing to do.
const LOCK_REFRESH: LuaScript = {
  name: 'flashsaleCacheLockRefresh',
  keys: 2,
  lua: `
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return -1 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0`,
}
// KEYS[1] lock. ARGV: our lock token. Deletes the lock only if we still hold it.
const UNLOCK: LuaScript = {
  name: 'flashsaleCacheUnlock',
  keys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
}

const UNAVAILABLE = Symbol('redis unavailable')
type Maybe<R> = R | typeof UNAVAILABLE

const newToken = (): string => randomBytes(12).toString('base64url')

export function createCache<T>(options: CacheOptions): Cache<T> {
  const {
    name,
    redis,
    registry,
    subscriber,
    bloom,
    prefix = `cache:${name}:`,
    jitter = 0.1,
    beta = 1,
    leaseMs = 10_000,
    refreshLockMs = 10_000,
    redisTimeoutMs = 500,
    redisRetryAfterMs = 1_000,
  } = options
  const defaults = resolveReadOptions(options, {
    ttlMs: options.ttlMs,
    staleWhileRevalidateMs: 0,
    staleIfErrorMs: 0,
    negativeTtlMs: Math.min(options.ttlMs, 5_000),
  })
  if (/[{}]/.test(prefix)) throw new RangeError(`prefix must not contain { or } (the key's hash tag follows it), got ${prefix}`)
  const l1TtlMs = options.l1?.ttlMs ?? 1_000
  if (!(l1TtlMs > 0)) throw new RangeError(`l1.ttlMs must be > 0, got ${l1TtlMs}`)

  const l1 = new LRUCache<string, Entry<T>>({ max: options.l1?.maxEntries ?? 10_000, ttl: l1TtlMs })
  const hot = createHotKeyDetector(options.hotKeys)
  const flights = createSingleflight<T | undefined>()
  const refreshing = new Set<string>()
  const maybeMetrics = createCacheMetrics(registry, name, () => l1.size)
  if (!maybeMetrics) throw new CacheError('CACHE_ERR_DUPLICATE_NAME', `a cache named "${name}" already reports to this registry`)
  const metrics: CacheMetrics = maybeMetrics

  // Local invalidation bookkeeping. `epoch` counts invalidations in this process; a read or refresh
  // that started at epoch e may copy its result into L1 only if its key was not invalidated after e.
  // Recent invalidations are remembered per key (bounded); when one is evicted, `floor` takes its
  // epoch, which conservatively blocks every older operation instead.
  let epoch = 0
  let floor = 0
  const invalidatedAt = new LRUCache<string, number>({
    max: 10_000,
    dispose: (at, _key, reason) => {
      if (reason === 'evict') floor = Math.max(floor, at)
    },
  })
  const begin = (): Operation => ({ epoch })
  const invalidatedSince = (key: string, op: Operation): boolean => Math.max(invalidatedAt.get(key) ?? 0, floor) > op.epoch
  const dropLocal = (keys: readonly string[]): void => {
    epoch++
    for (const key of keys) {
      l1.delete(key)
      flights.forget(key)
      invalidatedAt.set(key, epoch)
    }
  }
  const dropAllLocal = (): void => {
    epoch++
    floor = epoch
    l1.clear()
  }

  // Fail-open: every Redis call of a read has a timeout, and when at least half of the calls of the last
  // 5 s failed the circuit opens: reads skip Redis (L1 + singleflight still shield the database) until a
  // probe succeeds. A failure ratio, not N failures in a row, so that a burst in which a few calls time
  // out behind our own queue (a spike saturating the event loop) does not switch Redis off for everyone.
  // abortOnReturn: false spares an AbortController abort (and its DOMException) on every call.
  const redisTimeout = timeout(redisTimeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false })
  const breaker = new SamplingBreaker({ threshold: 0.5, duration: 5_000, minimumRps: 2 })
  const redisPolicy = wrap(circuitBreaker(handleAll, { halfOpenAfter: redisRetryAfterMs, breaker }), redisTimeout)
  const l2 = async <R>(call: () => Promise<R>): Promise<Maybe<R>> => {
    try {
      return await redisPolicy.execute(call)
    } catch (err) {
      metrics.redisFailure(err instanceof BrokenCircuitError ? 'circuit_open' : err instanceof TaskCancelledError ? 'timeout' : 'error')
      return UNAVAILABLE
    }
  }

  // The {hash tag} puts an entry and its refresh lock in one Redis Cluster slot, for LOCK_REFRESH.
  const entryKey = (key: string): string => `${prefix}{${key}}`
  const lockKey = (key: string): string => `${prefix}{${key}}:refresh`
  // Channels are not keys, so ioredis does not prefix them; add the client's keyPrefix ourselves so a
  // prefix that separates deployments (or test suites) on one Redis separates their invalidations too.
  const channel = `${redis.options.keyPrefix ?? ''}${prefix}invalidations`
  const instanceId = randomUUID()

  const promote = (key: string, entry: Entry<T>, op: Operation): void => {
    if (!hot.isHot(key) || invalidatedSince(key, op)) return
    const ttl = Math.min(l1TtlMs, entry.expiresAt - Date.now())
    if (ttl <= 0) return
    if (!l1.has(key)) metrics.promoted()
    l1.set(key, entry, { ttl })
  }

  /**
   * Calls the loader and writes the result to L2 if `token` still names the entry there (`undefined`:
   * Redis is unavailable, keep L1 only). Copies it into L1 when hot, unless the write lost to an
   * invalidation.
   */
  const loadAndStore = async (key: string, loader: Loader<T>, o: Required<ReadOptions>, token: string | undefined, op: Operation): Promise<T | undefined> => {
    const started = performance.now()
    let value: T | undefined
    try {
      value = await loader(key)
    } catch (err) {
      metrics.load('error', (performance.now() - started) / 1000)
      throw err
    }
    const deltaMs = performance.now() - started
    metrics.load(value === undefined ? 'not_found' : 'found', deltaMs / 1000)
    const ttlMs = jitterTtl(value === undefined ? o.negativeTtlMs : o.ttlMs, jitter)
    const entry: Entry<T> = { value, expiresAt: Date.now() + ttlMs, deltaMs, token: newToken() }
    if (token !== undefined) {
      // Redis keeps a value past its freshness for the grace periods; a negative entry has none.
      const keepMs = value === undefined ? ttlMs : ttlMs + Math.max(o.staleWhileRevalidateMs, o.staleIfErrorMs)
      const payload = JSON.stringify({ v: value, e: entry.expiresAt, d: Math.round(deltaMs) })
      const written = await l2(() => runScript(redis, SET_IF_TOKEN, entryKey(key), token, entry.token, payload, keepMs))
      if (written === 0) {
        metrics.writeRejected()
        l1.delete(key)
        return value
      }
    }
    promote(key, entry, op)
    return value
  }

  /** One background refresh per key: per process by `refreshing`, across instances by a Redis lock. */
  const refresh = (key: string, entry: Entry<T>, loader: Loader<T>, o: Required<ReadOptions>, reason: 'early' | 'stale'): void => {
    if (refreshing.has(key)) return
    refreshing.add(key)
    const op = begin()
    const run = async (): Promise<void> => {
      const lock = newToken()
      const acquired = await l2(() => runScript(redis, LOCK_REFRESH, entryKey(key), lockKey(key), entry.token, lock, refreshLockMs))
      if (acquired === 0) return // another instance is refreshing
      if (acquired === -1) {
        l1.delete(key) // our copy is outdated: the next read takes the current entry from L2
        return
      }
      if (reason === 'early') metrics.earlyRefresh()
      try {
        await loadAndStore(key, loader, o, acquired === UNAVAILABLE ? undefined : entry.token, op)
      } finally {
        if (acquired !== UNAVAILABLE) await l2(() => runScript(redis, UNLOCK, lockKey(key), lock))
      }
    }
    run()
      // A failed refresh leaves the entry as it was: still served within its grace period, then a miss.
      // The failure is in cache_load_duration_seconds{outcome="error"}.
      .catch(() => {})
      .finally(() => refreshing.delete(key))
  }

  const refreshEarlyMaybe = (key: string, entry: Entry<T>, loader: Loader<T>, o: Required<ReadOptions>, now: number): void => {
    if (entry.value !== undefined && shouldRefreshEarly(entry, now, beta)) refresh(key, entry, loader, o, 'early')
  }

  const bloomAllows = async (key: string): Promise<boolean> => {
    if (!bloom) return true
    const answer = await l2(() => bloom.mightContain(key))
    return answer !== false // unavailable → "maybe": fail open
  }

  /** Everything after an L1 miss; runs once per key per process at a time (singleflight). */
  const readThrough = async (key: string, loader: Loader<T>, o: Required<ReadOptions>): Promise<T | undefined> => {
    const op = begin()
    const read = await l2(() => redis.hmget(entryKey(key), 't', 'p'))
    // token: the entry's version, null when there is no entry, undefined when Redis is unavailable.
    const [currentToken, payload] = read === UNAVAILABLE ? [] : read
    let token = read === UNAVAILABLE ? undefined : (currentToken ?? null)
    let stale: Entry<T> | undefined
    if (currentToken && payload) {
      const entry = decode<T>(currentToken, payload)
      const now = Date.now()
      if (now < entry.expiresAt) {
        metrics.hit('l2')
        promote(key, entry, op)
        refreshEarlyMaybe(key, entry, loader, o, now)
        return entry.value
      }
      const overdue = now - entry.expiresAt
      if (entry.value !== undefined && overdue < o.staleWhileRevalidateMs) {
        metrics.staleServed('revalidate')
        refresh(key, entry, loader, o, 'stale')
        return entry.value
      }
      if (entry.value !== undefined && overdue < o.staleIfErrorMs) stale = entry
    }
    metrics.miss('l2')
    // The Bloom filter lives in the same Redis: when Redis just failed this read, asking it would only pay a
    // second timeout for the same "maybe" (fail open). A request pays at most one Redis timeout (a Redis
    // failover made product pages wait two, past the gateway's budget: make chaos-redis).
    if (read !== UNAVAILABLE && !(await bloomAllows(key))) {
      metrics.bloomRejected()
      return undefined
    }
    if (token === null) {
      // No entry: take a lease, so that the value this load writes back is tied to a token that an
      // invalidation (DEL) destroys.
      const leased = await l2(() => runScript(redis, LEASE, entryKey(key), newToken(), leaseMs) as Promise<string>)
      token = leased === UNAVAILABLE ? undefined : leased
    }
    try {
      return await loadAndStore(key, loader, o, token, op)
    } catch (err) {
      if (!stale) throw err
      metrics.staleServed('error')
      return stale.value
    }
  }

  let subscribed: Promise<void> = Promise.resolve()
  const onMessage = (from: string, message: string): void => {
    if (from !== channel) return
    let parsed: { from?: unknown; keys?: unknown }
    try {
      parsed = JSON.parse(message) as typeof parsed
    } catch {
      return
    }
    if (parsed.from === instanceId || !Array.isArray(parsed.keys)) return
    const keys = parsed.keys.filter((k): k is string => typeof k === 'string')
    dropLocal(keys)
    metrics.invalidated('remote', keys.length)
  }
  // After a reconnect we may have missed messages: forget all of L1 rather than serve what they named.
  const onReady = (): void => dropAllLocal()
  if (subscriber) {
    subscriber.on('message', onMessage)
    subscriber.on('ready', onReady)
    subscribed = subscriber.subscribe(channel).then(() => {})
    subscribed.catch(() => {}) // reported by ready(); ioredis re-subscribes on reconnect
  }

  return {
    name,

    async get(key, loader, readOptions) {
      const o = readOptions ? resolveReadOptions(readOptions, defaults) : defaults
      const now = Date.now()
      hot.record(key, now)
      const cached = l1.get(key)
      if (cached && now < cached.expiresAt) {
        metrics.hit('l1')
        refreshEarlyMaybe(key, cached, loader, o, now)
        return cached.value
      }
      metrics.miss('l1')
      const flight = flights.run(key, () => readThrough(key, loader, o))
      if (flight.shared) metrics.coalesced()
      return flight.result
    },

    async invalidate(keys) {
      const list = typeof keys === 'string' ? [keys] : [...keys]
      if (list.length === 0) return
      let failure: unknown
      try {
        // Not behind the circuit breaker: an invalidation is worth a try even while reads skip Redis.
        // One DEL per key (not one DEL of many keys), so keys may live in different Redis Cluster slots.
        await redisTimeout.execute(async () => {
          const pipeline = redis.pipeline()
          for (const key of list) pipeline.del(entryKey(key))
          for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err
        })
        await redisTimeout.execute(() => redis.publish(channel, JSON.stringify({ from: instanceId, keys: list })))
      } catch (err) {
        failure = err
      }
      // After the DEL: a read that started before it cannot put what it read into L1 (see `epoch`).
      dropLocal(list)
      metrics.invalidated('local', list.length)
      if (failure !== undefined) {
        metrics.redisFailure(failure instanceof TaskCancelledError ? 'timeout' : 'error')
        throw new CacheError('CACHE_ERR_INVALIDATION_FAILED', `Redis did not take the invalidation of ${list.length} key(s) of cache "${name}"`, {
          cause: failure,
        })
      }
    },

    ready: () => subscribed,

    async close() {
      metrics.close()
      l1.clear()
      if (subscriber) {
        subscriber.off('message', onMessage)
        subscriber.off('ready', onReady)
        await subscriber.unsubscribe(channel).catch(() => {})
      }
    },
  }
}

function resolveReadOptions(given: ReadOptions, base: Required<ReadOptions>): Required<ReadOptions> {
  const o: Required<ReadOptions> = {
    ttlMs: given.ttlMs ?? base.ttlMs,
    staleWhileRevalidateMs: given.staleWhileRevalidateMs ?? base.staleWhileRevalidateMs,
    staleIfErrorMs: given.staleIfErrorMs ?? base.staleIfErrorMs,
    negativeTtlMs: given.negativeTtlMs ?? base.negativeTtlMs,
  }
  for (const k of ['ttlMs', 'negativeTtlMs'] as const)
    if (!(Number.isFinite(o[k]) && o[k] >= 1)) throw new RangeError(`${k} must be a finite number of ms >= 1, got ${o[k]}`)
  for (const k of ['staleWhileRevalidateMs', 'staleIfErrorMs'] as const)
    if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new RangeError(`${k} must be a finite number of ms >= 0, got ${o[k]}`)
  return o
}

function decode<T>(token: string, payload: string): Entry<T> {
  const p = JSON.parse(payload) as { v?: T; e: number; d: number }
  return { value: 'v' in p ? p.v : undefined, expiresAt: p.e, deltaMs: p.d, token }
}
