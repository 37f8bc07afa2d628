-- The stock gate: checks the sale's state and window, the buyer's limit and the stock, then reserves, all
-- in one atomic step. Idempotent on orderId: a repeat answers 'duplicate' with the original reservation.
-- ARGV: orderId, userId, qty, nowMs
-- Reply: { outcome, ... }:
--   reserved|duplicate: userId, qty, expiresAtMs, state, available (reserved only)
--   limit_reached: held, limit      sold_out: available      conflict (another buyer's order id)
--   not_open | closed | paused | missing | rebuilding
local orderId, userId, qty, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local g = gate_state()
if g ~= 'ready' then return { g } end

local existing = redis.call('HGET', RES, orderId)
if existing then
  local r = decode(existing)
  if r.user ~= userId then return { 'conflict' } end
  local out = reply(r)
  table.insert(out, 1, 'duplicate')
  return out
end

local m = redis.call('HMGET', META, 'state', 'starts_at', 'ends_at', 'limit', 'ttl_ms')
if m[1] == 'paused' then return { 'paused' } end
if m[1] == 'closed' then return { 'closed' } end
if now < tonumber(m[2]) then return { 'not_open' } end
if now >= tonumber(m[3]) then return { 'closed' } end

local limit = tonumber(m[4])
local held = tonumber(redis.call('HGET', USERS, userId) or '0')
if held + qty > limit then return { 'limit_reached', int(held), int(limit) } end

local available = tonumber(redis.call('GET', AVAIL))
if available < qty then return { 'sold_out', int(available) } end

local r = { user = userId, qty = qty, expires = int(now + tonumber(m[5])), state = 'reserved', cseq = 0 }
redis.call('DECRBY', AVAIL, qty)
announce(available, false)
redis.call('HINCRBY', USERS, userId, qty)
redis.call('HSET', RES, orderId, encode(r))
redis.call('ZADD', EXP, r.expires, orderId)
redis.call('HINCRBY', META, 'uncommitted', qty)
bump(ARGV[4], true)
local out = reply(r)
table.insert(out, 1, 'reserved')
table.insert(out, int(available - qty))
return out
