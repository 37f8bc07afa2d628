-- Compares the gate with Postgres and repairs drift when it is safe to.
--   expected = total - max(sold (Postgres) + late, persisted units still held here) - units not yet persisted
--     late: units marked persisted since seqA (read before Postgres: they may be in `sold` already)
--     persisted units still held here: a cancelled order's units leave `sold` in the sweeper's transaction
--       but stay held by its reservation until the gate's release, which may come much later (Redis was
--       down; a follow-up retries). Until then they are not available: the release gives them back, once.
--   drift    = available - expected   (> 0: the gate would hand out units Postgres cannot take)
-- Repairs (available := max(expected, 0)) only when the sale is paused/closed or has had no gate activity
-- for quietMs: in a busy sale the numbers move between the Postgres read and this script.
-- ARGV: seqA, nowMs, total, sold, quietMs, repair ('1' | '0')
-- Reply: { 'ok', available, expected, drift, uncommitted, committed, late, repaired, state }
--        | { 'missing' } | { 'rebuilding' }
local g = gate_state()
if g ~= 'ready' then return { g } end
local m = redis.call('HMGET', META, 'state', 'uncommitted', 'committed', 'changed_at')
local available = tonumber(redis.call('GET', AVAIL))
local unc, com = tonumber(m[2] or '0'), tonumber(m[3] or '0')
local late = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', COMMITS, '(' .. ARGV[1], '+inf')) do
  local v = redis.call('HGET', RES, id)
  if v then
    local r = decode(v)
    if PERSISTED[r.state] then late = late + r.qty end
  end
end
local persisted = tonumber(ARGV[4]) + late
if com > persisted then persisted = com end
local expected = tonumber(ARGV[3]) - persisted - unc
local drift = available - expected
local quiet = m[1] == 'paused' or m[1] == 'closed' or tonumber(ARGV[2]) - tonumber(m[4] or '0') >= tonumber(ARGV[5])
local repaired = 0
if drift ~= 0 and quiet and ARGV[6] == '1' then
  local target = expected
  if target < 0 then target = 0 end
  if target ~= available then
    redis.call('SET', AVAIL, target)
    announce(available, false)
    bump(ARGV[2], false)
    repaired = 1
  end
end
return { 'ok', int(available), int(expected), int(drift), int(unc), int(com), int(late), int(repaired), m[1] }
