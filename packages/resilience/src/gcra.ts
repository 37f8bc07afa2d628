/**
 * GCRA (generic cell rate algorithm) rate limiting in Redis: one atomic Lua script per check, one key per
 * limited subject holding its theoretical arrival time (TAT). Semantics of brandur/redis-cell
 * (redis-cell-impl/src/lib.rs), REFERENCE.md lines 40-42:
 *   T = period / count (emission interval), tau = T * (burst + 1) (delay variation tolerance)
 *   new_tat = max(tat, now) + T * cost; allow_at = new_tat - tau
 *   limited if now < allow_at: retry_after = allow_at - now (unless cost can never fit), nothing stored
 *   else store new_tat with a TTL of new_tat - now (PX), so idle keys vanish
 *   remaining = floor((tau - ttl) / T); reset_after = ttl (when the subject is back to a full burst)
 * A subject may make `burst + 1` requests at once, then one every T.
 *
 * The clock: Redis TIME inside the script (the default). Every gateway instance then judges against one
 * clock, so clock skew between gateway hosts cannot hand out extra requests, and the script stays a single
 * round trip. Redis 7 replicates script effects, not scripts, so TIME in a script that writes is allowed.
 * `now` may be injected instead (tests replay redis-cell's own table of cases with a fixed clock).
 */
import type { Redis } from 'ioredis'

export interface RateLimitResult {
  readonly allowed: boolean
  /** Requests that would still be allowed right now. */
  readonly remaining: number
  /** When refused: wait this long before the same request can be allowed. 0 when allowed. */
  readonly retryAfterMs: number
  /** Until the subject is back to a full burst. */
  readonly resetAfterMs: number
  /** The burst + 1 requests a subject may make at once. */
  readonly limit: number
  /** Until one more request becomes available (0 when at the full burst); the IETF `t` parameter. */
  readonly nextAfterMs: number
  /** Which limiter answered; `local` means the in-process fallback (Redis was unreachable). */
  readonly source: 'redis' | 'local'
}

export interface RateLimiter {
  /** Counts `cost` (default 1) against `key` if allowed; `cost` 0 only reads the state. */
  check(key: string, cost?: number): Promise<RateLimitResult>
  readonly policy: RateLimitPolicy
}

export interface RateLimitPolicy {
  /** Name in the `RateLimit-Policy` / `RateLimit` headers, e.g. "per-ip". */
  readonly name: string
  readonly ratePerPeriod: number
  readonly periodMs: number
  readonly burst: number
}

export interface GcraOptions extends RateLimitPolicy {
  /** Prefix of the Redis keys, before the limiter name and the subject. Default `rl:`. */
  readonly keyPrefix?: string
  /** Milliseconds since the epoch. Default: Redis TIME inside the script. */
  readonly now?: () => number
}

// All times in microseconds, so a fractional-millisecond T (1000 ms / 3) stays exact enough.
// ARGV: T, tau, cost, now ('' = Redis TIME). Returns {limited, remaining, retry_after_us, reset_after_us, next_after_us}.
const GCRA_LUA = `
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[4])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local increment = T * cost
local new_tat = tat + increment
local allow_at = new_tat - tau
local limited = 0
local retry_after = 0
local ttl
if now < allow_at then
  limited = 1
  if increment <= tau then retry_after = allow_at - now else retry_after = -1 end
  ttl = tat - now
else
  ttl = new_tat - now
  if ttl > 0 then
    redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(ttl / 1000))
  end
end
local remaining = 0
local next = tau - ttl
if next > -T then remaining = math.floor(next / T + 1e-9) end
local next_after = 0
if ttl > 0 then next_after = (remaining + 1) * T - next end
return { limited, remaining, math.ceil(retry_after), math.ceil(ttl), math.ceil(next_after) }
`

const COMMAND = 'flashsaleGcra'

type GcraCommand = (key: string, T: string, tau: string, cost: string, now: string) => Promise<[number, number, number, number, number]>

export function createGcraLimiter(redis: Redis, options: GcraOptions): RateLimiter {
  const { name, ratePerPeriod, periodMs, burst, keyPrefix = 'rl:', now } = options
  if (!(ratePerPeriod > 0 && periodMs > 0)) throw new RangeError('ratePerPeriod and periodMs must be positive')
  if (!(Number.isInteger(burst) && burst >= 0)) throw new RangeError(`burst must be a non-negative integer, got ${burst}`)
  const emissionUs = (periodMs * 1000) / ratePerPeriod
  const tauUs = emissionUs * (burst + 1)
  // defineCommand: EVALSHA with a fallback to EVAL on NOSCRIPT, and KEYS get the client's keyPrefix.
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA })
  const run = (redis as unknown as Record<typeof COMMAND, GcraCommand>)[COMMAND].bind(redis)
  const policy: RateLimitPolicy = { name, ratePerPeriod, periodMs, burst }

  return {
    policy,
    async check(key, cost = 1) {
      if (!(Number.isInteger(cost) && cost >= 0)) throw new RangeError(`cost must be a non-negative integer, got ${cost}`)
      const nowArg = now ? String(Math.round(now() * 1000)) : ''
      const [limited, remaining, retryUs, resetUs, nextUs] = await run(`${keyPrefix}${name}:${key}`, String(emissionUs), String(tauUs), String(cost), nowArg)
      const allowed = limited === 0
      return {
        allowed,
        remaining,
        // A cost larger than the whole burst can never be allowed: redis-cell answers -1; we say "after a full reset".
        retryAfterMs: allowed ? 0 : retryUs < 0 ? Math.ceil(tauUs / 1000) : retryUs / 1000,
        resetAfterMs: resetUs / 1000,
        limit: burst + 1,
        nextAfterMs: nextUs / 1000,
        source: 'redis',
      }
    },
  }
}
