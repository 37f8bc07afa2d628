/**
 * Read-your-own-writes: who wrote in the last few seconds, so that their reads skip the replicas, which
 * may not have replayed the write yet. Kept in Redis, not in process memory, because the instance that
 * serves a user's next read is rarely the one that took their write.
 */
export interface RecentWrites {
  /** Record that `userId` has just committed a write; starts (or restarts) the window. */
  mark(userId: string): Promise<void>
  /** Whether `userId` wrote within the window. */
  has(userId: string): Promise<boolean>
}

/** The two Redis commands used, typed structurally so ioredis (or any client) fits without a runtime dependency. */
export interface RecentWritesRedis {
  set(key: string, value: string, mode: 'PX', milliseconds: number): Promise<unknown>
  exists(key: string): Promise<number>
}

export interface RedisRecentWritesOptions {
  /** How long after a write the user's reads go to the primary. Longer than the replicas' usual lag. Default 5 s. */
  readonly windowMs?: number
  readonly prefix?: string
}

export function createRedisRecentWrites(redis: RecentWritesRedis, { windowMs = 5_000, prefix = 'ryow:' }: RedisRecentWritesOptions = {}): RecentWrites {
  if (!Number.isInteger(windowMs) || windowMs < 1) throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`)
  return {
    // A key with a TTL is the whole window: Redis expires it, nothing to sweep.
    mark: async (userId) => void (await redis.set(`${prefix}${userId}`, '1', 'PX', windowMs)),
    has: async (userId) => (await redis.exists(`${prefix}${userId}`)) > 0,
  }
}
