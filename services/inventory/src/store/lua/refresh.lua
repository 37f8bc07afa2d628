-- Copies the sale's definition from Postgres into the gate (state, window, limit, TTL, total, sku, title).
-- Does nothing when the gate state is missing: that needs a rebuild, not a partial write.
-- ARGV: nowMs, state, startsAtMs, endsAtMs, limit, ttlMs, total, sku, title
-- Reply: { gateState, available }
local g = gate_state()
if g == 'missing' then return { 'missing', '' } end
local old = redis.call('HGET', META, 'state')
redis.call('HSET', META, 'state', ARGV[2], 'starts_at', ARGV[3], 'ends_at', ARGV[4], 'limit', ARGV[5],
  'ttl_ms', ARGV[6], 'total', ARGV[7], 'sku', ARGV[8], 'title', ARGV[9])
if old ~= ARGV[2] then bump(ARGV[1], false) end
return { g, redis.call('GET', AVAIL) }
