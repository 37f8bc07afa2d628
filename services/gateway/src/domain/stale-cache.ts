/**
 * The last good answer of each non-core GET, kept to serve while degraded (RFC 5861's stale-if-error,
 * applied by the gateway). Bounded in entries and age (lru-cache), in this process only: a stale answer
 * is a courtesy, and a cold instance answers 503 `degraded` instead. Keys include the user id, because
 * `/users/me/orders` means a different thing for each caller.
 */
import { LRUCache } from 'lru-cache'

export interface CachedAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  readonly storedAt: number
}

export function createStaleCache({ maxEntries, ttlMs }: { maxEntries: number; ttlMs: number }) {
  const cache = new LRUCache<string, CachedAnswer>({ max: maxEntries, ttl: ttlMs, maxSize: 64 * 1024 * 1024, sizeCalculation: (v) => v.body.length + 1 })
  const key = (userId: string | undefined, url: string) => `${userId ?? '-'} ${url}`
  return {
    remember: (userId: string | undefined, url: string, answer: CachedAnswer) => void cache.set(key(userId, url), answer),
    recall: (userId: string | undefined, url: string): CachedAnswer | undefined => cache.get(key(userId, url)),
    get size() {
      return cache.size
    },
  }
}
export type StaleCache = ReturnType<typeof createStaleCache>
