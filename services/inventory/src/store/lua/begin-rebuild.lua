-- Closes the gate for a rebuild (reserve answers 'rebuilding' -> 503) and returns the seq the rebuild
-- starts from. A rebuild younger than staleMs is left alone unless forced; an older one (its process died)
-- is taken over.
-- ARGV: token, nowMs, staleMs, force ('1' | '0')
-- Reply: { 'begun', seq } | { 'in_progress' }
local m = redis.call('HMGET', META, 'gate', 'rebuild_at', 'seq')
if m[1] == 'rebuilding' and ARGV[4] ~= '1' and tonumber(ARGV[2]) - tonumber(m[2] or '0') < tonumber(ARGV[3]) then
  return { 'in_progress' }
end
redis.call('HSET', META, 'gate', 'rebuilding', 'rebuild_token', ARGV[1], 'rebuild_at', ARGV[2])
return { 'begun', m[3] or '0' }
