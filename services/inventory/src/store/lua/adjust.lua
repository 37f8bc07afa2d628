-- Moves the gate's available units with a change of the sale's total, refusing to go below zero (units
-- already handed out cannot be taken back).
-- ARGV: delta, newTotal, nowMs
-- Reply: { 'ok', available } | { 'below_taken', available } | { 'missing' }
if gate_state() == 'missing' then return { 'missing' } end
local available = tonumber(redis.call('GET', AVAIL))
local delta = tonumber(ARGV[1])
if available + delta < 0 then return { 'below_taken', int(available) } end
local before = available
available = redis.call('INCRBY', AVAIL, delta)
announce(before, false)
redis.call('HSET', META, 'total', ARGV[2])
bump(ARGV[3], false)
return { 'ok', int(available) }
