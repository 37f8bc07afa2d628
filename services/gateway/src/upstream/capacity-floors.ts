/**
 * The capacity floor of each upstream's concurrency limit (twice the measured bandwidth-delay product, ADR
 * 0026), shared by every gateway through Redis, so a gateway that starts in the middle of a sale starts where
 * the fleet was instead of at LIMIT_INITIAL.
 *
 * What is kept is the **highest** floor measured in the last hour, not the latest. The floor is measured over
 * a 30 s window of traffic; between sales there is none, the window's floor falls to 1, and writing that down
 * made every gateway restarted before the next sale start at 1 (Redis held `order: 1` after a quiet spell).
 * Idle time says nothing about capacity, so it never lowers the stored value; the value expires an hour after
 * it was last reached. (This alone does not make the first burst after a restart go well: make bench-burst's
 * first repetition after a restart is still mostly refused by deadline admission; see docs/benchmarks.md.)
 */
import type { Redis } from 'ioredis'
import { withTimeout } from '@flashsale/resilience'

export const CAPACITY_FLOORS_KEY = 'gateway:capacity-floor'
const TTL_MS = 3_600_000

/** KEYS[1] a hash upstream → floor, ARGV ttlMs then upstream, floor pairs: raises a field, never lowers it. */
const RAISE = `
local raised = 0
for i = 2, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    raised = raised + 1
  end
end
if raised > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return raised`

/** The floors the fleet measured (upstream → floor); {} when Redis cannot say within 500 ms. */
export async function readCapacityFloors(redis: Redis): Promise<Record<string, number>> {
  const raw = await withTimeout(() => redis.hgetall(CAPACITY_FLOORS_KEY), 500)
  const floors: Record<string, number> = {}
  for (const [name, v] of Object.entries(raw)) if (Number.isInteger(Number(v)) && Number(v) > 0) floors[name] = Number(v)
  return floors
}

/** Records the floors measured now where they are higher than the fleet's; returns how many were raised. */
export async function raiseCapacityFloors(redis: Redis, floors: Readonly<Record<string, number>>, ttlMs = TTL_MS): Promise<number> {
  const pairs = Object.entries(floors).filter(([, floor]) => floor > 0)
  if (pairs.length === 0) return 0
  return Number(await redis.eval(RAISE, 1, CAPACITY_FLOORS_KEY, ttlMs, ...pairs.flat()))
}
