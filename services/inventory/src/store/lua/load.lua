-- Sets a sale's whole gate state from Postgres plus the reservations Redis still holds, atomically, and
-- reopens the gate. Used at creation (token '') and to finish a rebuild (token from begin-rebuild).
--   available = total - max(sold + late, persisted units still held here) - units not yet persisted
--     late: units of reservations marked persisted after the rebuild began (commitSeq > seqA), which
--       Postgres may or may not have counted yet: counting them twice errs toward fewer units, never
--       toward oversell; the reconciler gives them back once the sale is quiet.
--     persisted units still held here: a cancelled order leaves `sold` before its reservation is released
--       (the release may be pending while Redis was down); its release gives the units back, once.
--   users[u]  = max(Postgres user_units[u], persisted units of u still recorded here) + u's unpersisted units
-- ARGV: token, seqA, nowMs, state, startsAtMs, endsAtMs, limit, ttlMs, total, sku, title, sold,
--       then userId, units pairs from inventory.user_units
-- Reply: { 'loaded', available, uncommitted, committed, late, seq } | { 'superseded' } | { 'rebuilding' }
local m = redis.call('HMGET', META, 'gate', 'rebuild_token')
if ARGV[1] == '' then
  if m[1] == 'rebuilding' then return { 'rebuilding' } end
elseif m[2] ~= ARGV[1] then
  return { 'superseded' }
end

local seqA = tonumber(ARGV[2])
local unc, com, late = 0, 0, 0
local userUnc, userCom = {}, {}
local all = redis.call('HGETALL', RES)
for i = 1, #all, 2 do
  local r = decode(all[i + 1])
  if UNCOMMITTED[r.state] then
    unc = unc + r.qty
    userUnc[r.user] = (userUnc[r.user] or 0) + r.qty
  elseif PERSISTED[r.state] then
    com = com + r.qty
    userCom[r.user] = (userCom[r.user] or 0) + r.qty
    if r.cseq > seqA then late = late + r.qty end
  end
end

local users = {}
for i = 13, #ARGV, 2 do users[ARGV[i]] = tonumber(ARGV[i + 1]) end
for u, n in pairs(userCom) do
  if (users[u] or 0) < n then users[u] = n end
end
for u, n in pairs(userUnc) do users[u] = (users[u] or 0) + n end

redis.call('DEL', USERS)
for u, n in pairs(users) do
  if n > 0 then redis.call('HSET', USERS, u, n) end
end

local persisted = tonumber(ARGV[12]) + late
if com > persisted then persisted = com end
local available = tonumber(ARGV[9]) - persisted - unc
if available < 0 then available = 0 end
redis.call('SET', AVAIL, available)
redis.call('HSET', META, 'state', ARGV[4], 'starts_at', ARGV[5], 'ends_at', ARGV[6], 'limit', ARGV[7],
  'ttl_ms', ARGV[8], 'total', ARGV[9], 'sku', ARGV[10], 'title', ARGV[11],
  'uncommitted', unc, 'committed', com)
redis.call('HDEL', META, 'gate', 'rebuild_token', 'rebuild_at')
local seq = bump(ARGV[3], true)
announce(available, true) -- a (re)loaded sale states its stock afresh, whatever it was before
return { 'loaded', int(available), int(unc), int(com), int(late), int(seq) }
