-- Releases reservations still in state 'reserved' whose expiry has passed: their orders never reached the
-- worker (or reached it after the TTL). Tombstone 'expired', so a late claim is told so.
-- ARGV: nowMs, max reservations per call
-- Reply: flat list orderId, qty, orderId, qty, ...
if gate_state() == 'missing' then return {} end
local ids = redis.call('ZRANGEBYSCORE', EXP, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', RES, id)
  local r = v and decode(v)
  if r and r.state == 'reserved' then
    release_one(id, r, 'expired')
    table.insert(out, id)
    table.insert(out, int(r.qty))
  else
    redis.call('ZREM', EXP, id)
  end
end
if #out > 0 then bump(ARGV[1], false) end
return out
