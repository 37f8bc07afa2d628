/**
 * The order API's Redis state: Idempotency-Key claims and outcomes, and the order status cache.
 * Keys are namespaced `order:`; user ids and keys are validated by the route schemas before they get here.
 */
import type { Redis } from 'ioredis'
import type { IdempotencyBegin, IdempotencyStore, OrderStatusView, PlacementOutcome, StatusCache } from '../domain/ports.ts'

interface StoredClaim {
  readonly state: 'in_progress' | 'done'
  readonly fp: string
  readonly outcome?: PlacementOutcome
}

const idemKey = (userId: string, key: string) => `order:idem:${userId}:${key}`

export function createIdempotencyStore(redis: Redis, { ttlSeconds, claimSeconds = 30 }: { ttlSeconds: number; claimSeconds?: number }): IdempotencyStore {
  return {
    async begin(userId, key, fingerprint): Promise<IdempotencyBegin> {
      const k = idemKey(userId, key)
      // A claim expires on its own (claimSeconds) if its request dies mid-way, so the key is not stuck.
      const claimed = await redis.set(k, JSON.stringify({ state: 'in_progress', fp: fingerprint } satisfies StoredClaim), 'EX', claimSeconds, 'NX')
      if (claimed === 'OK') return { kind: 'new' }
      const raw = await redis.get(k)
      if (raw === null) return this.begin(userId, key, fingerprint) // expired between SET and GET: claim again
      const stored = JSON.parse(raw) as StoredClaim
      if (stored.state === 'done' && stored.outcome) return { kind: 'done', fingerprint: stored.fp, outcome: stored.outcome }
      return { kind: 'in_progress', fingerprint: stored.fp }
    },
    async complete(userId, key, fingerprint, outcome) {
      await redis.set(idemKey(userId, key), JSON.stringify({ state: 'done', fp: fingerprint, outcome } satisfies StoredClaim), 'EX', ttlSeconds)
    },
    async forget(userId, key) {
      await redis.del(idemKey(userId, key))
    },
  }
}

export function createStatusCache(redis: Redis, { ttlSeconds }: { ttlSeconds: number }): StatusCache {
  const k = (orderId: string) => `order:status:${orderId}`
  return {
    async put(view) {
      await redis.set(k(view.orderId), JSON.stringify(view), 'EX', ttlSeconds)
    },
    async get(orderId) {
      const raw = await redis.get(k(orderId))
      return raw === null ? undefined : (JSON.parse(raw) as OrderStatusView)
    },
  }
}
