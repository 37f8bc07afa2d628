-- join or poll: a buyer's ticket, and whether the watermark has reached it.
-- ARGV: userId, nowMs, op ('join' | 'poll'), drawScore (a random number in [0, 1), for a lottery entrant)
-- Returns { 'none' } (no room), { 'no_ticket' } (poll without a ticket), or
--   { 'new' | 'existing', place, ticket, served, joinedAtMs, admittedAtMs, ahead, newlyAdmitted }
-- where ahead = holders still waiting in front of this place (0 when admitted or not drawn yet).
local user, now, op = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if redis.call('EXISTS', CFG) == 0 then return { 'none' } end

local outcome = 'existing'
local raw = redis.call('HGET', USERS, user)
local t
if raw then
  t = decode(raw)
elseif op ~= 'join' then
  return { 'no_ticket' }
else
  -- One ticket per user per room: the hash field is the claim, taken in this script or not at all.
  outcome = 'new'
  t = { place = 0, joined = now, ticket = redis.call('HINCRBY', CFG, 'tickets', 1), admitted = 0 }
  if redis.call('HGET', CFG, 'mode') == 'lottery' and redis.call('HGET', CFG, 'drawn') ~= '1' then
    redis.call('ZADD', DRAW, ARGV[4], user)
    keepWithCfg(DRAW)
  else
    t.place = redis.call('HINCRBY', CFG, 'ranked', 1)
  end
end

local served = num(redis.call('HGET', CFG, 'served'))
local ahead, newly = 0, 0
if t.place > 0 and t.place <= served then
  if t.admitted == 0 then
    t.admitted = now
    newly = 1
  end
elseif t.place > 0 then
  ahead = t.place - served - 1 - redis.call('ZCOUNT', GONE, '(' .. served, '(' .. t.place)
end
if outcome == 'new' or newly == 1 then
  redis.call('HSET', USERS, user, encode(t))
  keepWithCfg(USERS)
end
return { outcome, t.place, t.ticket, served, t.joined, t.admitted, ahead, newly }
