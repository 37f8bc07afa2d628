-- leave: a buyer gives up a place not yet admitted (those behind move up; nobody is skipped).
-- ARGV: userId, nowMs. Returns 'none' (no room), 'no_ticket', 'admitted' (too late: the place was admitted
-- and its pass is still good; kept, so the buyer cannot hold a second one), 'expired' (admitted, the pass ran
-- out unused: the place is given up, and the buyer may join again at the back) or 'left'.
local user, now = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', CFG) == 0 then return 'none' end
local raw = redis.call('HGET', USERS, user)
if not raw then return 'no_ticket' end
local t = decode(raw)
if t.place > 0 and t.place <= num(redis.call('HGET', CFG, 'served')) then
  if t.admitted == 0 or now < t.admitted + num(redis.call('HGET', CFG, 'pass_ttl_ms')) then return 'admitted' end
  redis.call('HDEL', USERS, user)
  return 'expired'
end
if t.place == 0 then
  redis.call('ZREM', DRAW, user)
else
  redis.call('ZADD', GONE, t.place, t.place)
  keepWithCfg(GONE)
end
redis.call('HDEL', USERS, user)
redis.call('HINCRBY', CFG, 'left', 1)
return 'left'
