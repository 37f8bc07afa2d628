/**
 * GCRA (generic cell rate algorithm) rate limiting in Redis: one atomic Lua script per check, one key per
 * limited subject holding its theoretical arrival time (TAT). Semantics of brandur/redis-cell
 * (https://github.com/brandur/redis-cell, redis-cell-impl/src/lib.rs):
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
 *
 * Why one file: the Lua script, its TypeScript caller and the local fallback must agree to the microsecond
 *   on one formula; side by side, a change to one is seen against the others.
 */
import type { Redis } from 'ioredis'
import { scriptCommand, type LuaScript } from '@flashsale/redis'

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
// One script for everything (ADR 0022): a batch of requests, each a chain of keys (per-IP then per-user).
// KEYS are all the subjects in order; ARGV[1] is now ('' = Redis TIME), ARGV[2] the number of requests,
// then per request: its number of keys, then T, tau, cost per key. Each request's keys are checked in order
// and its first refusal ends its chain (its later keys are not touched), exactly as separate checks one
// after the other would; requests are taken in order. Returns, per request, the number of keys checked and
// then {limited, remaining, retry_after_us, reset_after_us, next_after_us} per key checked.
const GCRA_LUA = `
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local out = {}
local a = 3
local k = 1
for r = 1, tonumber(ARGV[2]) do
  local nk = tonumber(ARGV[a])
  a = a + 1
  local countAt = #out + 1
  out[countAt] = 0
  local stopped = false
  for i = 1, nk do
    if not stopped then
      local T = tonumber(ARGV[a])
      local tau = tonumber(ARGV[a + 1])
      local cost = tonumber(ARGV[a + 2])
      local tat = tonumber(redis.call('GET', KEYS[k]) or now)
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
          redis.call('SET', KEYS[k], string.format('%.3f', new_tat), 'PX', math.ceil(ttl / 1000))
        end
      end
      local remaining = 0
      local next = tau - ttl
      if next > -T then remaining = math.floor(next / T + 1e-9) end
      local next_after = 0
      if ttl > 0 then next_after = (remaining + 1) * T - next end
      out[countAt] = out[countAt] + 1
      out[#out + 1] = limited
      out[#out + 1] = remaining
      out[#out + 1] = math.ceil(retry_after)
      out[#out + 1] = math.ceil(ttl)
      out[#out + 1] = math.ceil(next_after)
      if limited == 1 then stopped = true end
    end
    k = k + 1
    a = a + 3
  end
end
return out
`

const COMMAND = 'flashsaleGcraBatch'

type GcraCommand = (numKeys: number, ...keysThenArgs: string[]) => Promise<number[]>

// No `keys`: the first argument is the number of keys (ioredis still prefixes them).
const GCRA_SCRIPT: LuaScript = { name: COMMAND, lua: GCRA_LUA }

function gcraCommand(redis: Redis): GcraCommand {
  return scriptCommand<number[]>(redis, GCRA_SCRIPT) as GcraCommand
}

interface Compiled {
  readonly policy: RateLimitPolicy
  readonly emissionUs: number
  readonly tauUs: number
  readonly T: string
  readonly tau: string
}

function compile(policy: RateLimitPolicy): Compiled {
  const { name, ratePerPeriod, periodMs, burst } = policy
  if (!(ratePerPeriod > 0 && periodMs > 0)) throw new RangeError('ratePerPeriod and periodMs must be positive')
  if (!(Number.isInteger(burst) && burst >= 0)) throw new RangeError(`burst must be a non-negative integer, got ${burst}`)
  const emissionUs = (periodMs * 1000) / ratePerPeriod
  const tauUs = emissionUs * (burst + 1)
  return { policy: { name, ratePerPeriod, periodMs, burst }, emissionUs, tauUs, T: String(emissionUs), tau: String(tauUs) }
}

function checkCost(cost: number): void {
  if (!(Number.isInteger(cost) && cost >= 0)) throw new RangeError(`cost must be a non-negative integer, got ${cost}`)
}

function toResult(c: Compiled, out: readonly number[], at: number): RateLimitResult {
  const [limited, remaining, retryUs, resetUs, nextUs] = [out[at]!, out[at + 1]!, out[at + 2]!, out[at + 3]!, out[at + 4]!]
  const allowed = limited === 0
  return {
    allowed,
    remaining,
    // A cost larger than the whole burst can never be allowed: redis-cell answers -1; we say "after a full reset".
    retryAfterMs: allowed ? 0 : retryUs < 0 ? Math.ceil(c.tauUs / 1000) : retryUs / 1000,
    resetAfterMs: resetUs / 1000,
    limit: c.policy.burst + 1,
    nextAfterMs: nextUs / 1000,
    source: 'redis',
  }
}

export function createGcraLimiter(redis: Redis, options: GcraOptions): RateLimiter {
  const { keyPrefix = 'rl:', now } = options
  const c = compile(options)
  const run = gcraCommand(redis)
  return {
    policy: c.policy,
    async check(key, cost = 1) {
      checkCost(cost)
      const nowArg = now ? String(Math.round(now() * 1000)) : ''
      const out = await run(1, `${keyPrefix}${c.policy.name}:${key}`, nowArg, '1', '1', c.T, c.tau, String(cost))
      return toResult(c, out, 1)
    },
  }
}

/** One subject of a chain: its key and cost (default 1). */
export interface RateLimitSubject {
  readonly key: string
  readonly cost?: number
}

/** The answer of one policy of a chain. */
export interface RateLimitVerdict {
  /** Position of the policy in the chain. */
  readonly index: number
  readonly policy: RateLimitPolicy
  readonly result: RateLimitResult
}

/**
 * Several policies checked for one request, in order, stopping at the first refusal (per-IP, then
 * per-user). The verdicts are those of the policies checked: all allowed, or the last one refused.
 */
export interface RateLimitChain {
  readonly policies: readonly RateLimitPolicy[]
  /** `subjects[i]` is checked against `policies[i]`; an undefined subject skips its policy. */
  check(subjects: ReadonlyArray<RateLimitSubject | undefined>): Promise<RateLimitVerdict[]>
}

export interface GcraChainOptions {
  /** Prefix of the Redis keys, before the policy name and the subject. Default `rl:`. */
  readonly keyPrefix?: string
  /** Milliseconds since the epoch. Default: Redis TIME inside the script. */
  readonly now?: () => number
  /**
   * Send the checks made in one event-loop turn as ONE script call (flushed by setImmediate), instead of
   * one call per check. Each request's chain is still checked in order, atomically, against the shared
   * state in Redis; a batch only shares the round trip (and is itself atomic). Costs at most one turn of
   * latency. Default false.
   */
  readonly batch?: boolean
}

interface Prepared {
  readonly used: Compiled[]
  readonly indexes: number[]
  readonly keys: string[]
  readonly args: string[]
}

interface Waiting {
  readonly prepared: Prepared
  readonly resolve: (verdicts: RateLimitVerdict[]) => void
  readonly reject: (error: unknown) => void
}

/**
 * A chain of GCRA policies answered by ONE Redis script call per request: the same decisions, stored
 * values and TTLs as `createGcraLimiter` per policy checked one after the other, but atomic (no request
 * of another gateway slips between the two checks) and one round trip instead of one per policy.
 */
export function createGcraChain(redis: Redis, policies: readonly RateLimitPolicy[], options: GcraChainOptions = {}): RateLimitChain {
  const { keyPrefix = 'rl:', now, batch = false } = options
  const compiled = policies.map(compile)
  const run = gcraCommand(redis)
  const nowArg = () => (now ? String(Math.round(now() * 1000)) : '')

  function prepare(subjects: ReadonlyArray<RateLimitSubject | undefined>): Prepared {
    const prepared: Prepared = { used: [], indexes: [], keys: [], args: [] }
    for (let i = 0; i < compiled.length; i++) {
      const subject = subjects[i]
      if (!subject) continue
      const c = compiled[i]!
      const cost = subject.cost ?? 1
      checkCost(cost)
      prepared.used.push(c)
      prepared.indexes.push(i)
      prepared.keys.push(`${keyPrefix}${c.policy.name}:${subject.key}`)
      prepared.args.push(c.T, c.tau, String(cost))
    }
    return prepared
  }

  /** Runs the prepared requests in one script call; the verdicts of each, in order. */
  async function runAll(requests: readonly Prepared[]): Promise<RateLimitVerdict[][]> {
    const keys: string[] = []
    const args: string[] = [nowArg(), String(requests.length)]
    for (const r of requests) {
      keys.push(...r.keys)
      args.push(String(r.keys.length), ...r.args)
    }
    const out = await run(keys.length, ...keys, ...args)
    let at = 0
    return requests.map((r) => {
      const checked = out[at++]!
      const verdicts: RateLimitVerdict[] = []
      for (let i = 0; i < checked; i++, at += 5) verdicts.push({ index: r.indexes[i]!, policy: r.used[i]!.policy, result: toResult(r.used[i]!, out, at) })
      return verdicts
    })
  }

  let queue: Waiting[] = []
  const flush = () => {
    const waiting = queue
    queue = []
    runAll(waiting.map((w) => w.prepared)).then(
      (all) => waiting.forEach((w, i) => w.resolve(all[i]!)),
      (error: unknown) => waiting.forEach((w) => w.reject(error)),
    )
  }

  return {
    policies: compiled.map((c) => c.policy),
    async check(subjects) {
      const prepared = prepare(subjects)
      if (prepared.used.length === 0) return []
      if (!batch) return (await runAll([prepared]))[0]!
      return new Promise<RateLimitVerdict[]>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush)
        queue.push({ prepared, resolve, reject })
      })
    },
  }
}

/** A chain of any limiters checked one after the other (the local fallback of a GCRA chain). */
export function chainOf(limiters: readonly RateLimiter[]): RateLimitChain {
  return {
    policies: limiters.map((l) => l.policy),
    async check(subjects) {
      const verdicts: RateLimitVerdict[] = []
      for (let i = 0; i < limiters.length; i++) {
        const subject = subjects[i]
        if (!subject) continue
        const limiter = limiters[i]!
        const result = await limiter.check(subject.key, subject.cost ?? 1)
        verdicts.push({ index: i, policy: limiter.policy, result })
        if (!result.allowed) break
      }
      return verdicts
    },
  }
}
