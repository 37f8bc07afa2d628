-- Moves a reservation forward: claim (reserved -> committing, before the order worker's transaction),
-- commit (-> committed, after it), confirm (-> confirmed, paid). Idempotent: a reservation already at or
-- past the target answers 'already' and changes nothing.
-- ARGV: orderId, target ('committing' | 'committed' | 'confirmed'), nowMs
-- Reply: { outcome, userId, qty, expiresAtMs, state } with outcome ok | already | released | expired,
--        or { 'not_found' } when Redis has no record of the order id
local orderId, target = ARGV[1], ARGV[2]
local v = redis.call('HGET', RES, orderId)
if not v then return { 'not_found' } end
local r = decode(v)
local outcome
if r.state == 'released' or r.state == 'expired' then
  outcome = r.state
elseif RANK[r.state] >= RANK[target] then
  outcome = 'already'
else
  if UNCOMMITTED[r.state] and PERSISTED[target] then
    redis.call('HINCRBY', META, 'uncommitted', -r.qty)
    redis.call('HINCRBY', META, 'committed', r.qty)
    r.cseq = bump(ARGV[3], true)
    redis.call('ZADD', COMMITS, r.cseq, orderId)
  else
    bump(ARGV[3], true)
  end
  -- Only 'reserved' reservations expire on their own; a claimed order is the worker's (and later the
  -- order sweeper's) to finish.
  redis.call('ZREM', EXP, orderId)
  r.state = target
  redis.call('HSET', RES, orderId, encode(r))
  outcome = 'ok'
end
local out = reply(r)
table.insert(out, 1, outcome)
return out
