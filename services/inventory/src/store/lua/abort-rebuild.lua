-- Reopens the gate after a failed rebuild, if the rebuild is still ours. When the state was lost the gate
-- stays shut anyway ('missing'), so this never opens a gate without its stock.
-- ARGV: token
local t = redis.call('HGET', META, 'rebuild_token')
if t ~= ARGV[1] then return 0 end
redis.call('HDEL', META, 'gate', 'rebuild_token', 'rebuild_at')
return 1
