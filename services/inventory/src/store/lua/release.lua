-- Gives a reservation's units back exactly once: a second call finds the tombstone and returns 0.
-- ARGV: orderId, ownerUserId ('' = an admin/service caller, may release any live reservation), nowMs,
--       tombstone ('released' | 'expired'), onlyState ('' = any live state, else only that state)
-- Reply: { outcome, units, stateBefore, userId }, outcome one of
--   released | not_found | already (a tombstone) | forbidden (another buyer's) |
--   persisted (a buyer may not release a claimed/persisted order's units) | skipped (not in onlyState) | missing
local orderId, owner = ARGV[1], ARGV[2]
local v = redis.call('HGET', RES, orderId)
if not v then return { 'not_found', '0', '', '' } end
local r = decode(v)
if r.state == 'released' or r.state == 'expired' then return { 'already', '0', r.state, r.user } end
if owner ~= '' then
  if r.user ~= owner then return { 'forbidden', '0', r.state, r.user } end
  if r.state ~= 'reserved' then return { 'persisted', '0', r.state, r.user } end
end
if ARGV[5] ~= '' and r.state ~= ARGV[5] then return { 'skipped', '0', r.state, r.user } end
if redis.call('EXISTS', AVAIL) == 0 then return { 'missing', '0', r.state, r.user } end
local before = r.state
release_one(orderId, r, ARGV[4])
bump(ARGV[3], true)
return { 'released', int(r.qty), before, r.user }
