-- advance: one gateway instance moves the admission watermark by the credit its own measured rate earned
-- since its last pass (a token bucket per instance: the fleet admits the sum of what each instance can
-- take), or by the fleet's credit when the admin fixed a rate. A lottery room draws first, at its opening.
-- ARGV: instanceId, nowMs, ratePerSecond, burstSeconds (most credit kept, in seconds of the rate), paused ('1': no
-- credit is earned)
-- Returns { 'none' } or { 'ok', served, ranked, admittedNow, waiting, fleetRate (string), drawn, tickets }
local id, now, rate, burstSeconds, paused = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
if redis.call('EXISTS', CFG) == 0 then return { 'none' } end
local opensAt = num(redis.call('HGET', CFG, 'opens_at'))
local ranked = num(redis.call('HGET', CFG, 'ranked'))

-- The draw: every entrant so far gets a place in the order of a random score drawn at joining, so the order
-- of arrival before the opening does not matter. Later entrants queue behind, first come first served.
local drew = 0
if now >= opensAt and redis.call('HGET', CFG, 'mode') == 'lottery' and redis.call('HGET', CFG, 'drawn') ~= '1' then
  local entrants = redis.call('ZRANGE', DRAW, 0, -1)
  for _, user in ipairs(entrants) do
    local raw = redis.call('HGET', USERS, user)
    if raw then
      local t = decode(raw)
      ranked = ranked + 1
      t.place = ranked
      redis.call('HSET', USERS, user, encode(t))
      drew = drew + 1
    end
  end
  redis.call('HSET', CFG, 'ranked', ranked, 'drawn', 1)
  redis.call('DEL', DRAW)
end

local fixed = num(redis.call('HGET', CFG, 'rate'))
local bucket = id
if fixed > 0 then
  bucket = 'fleet'
  rate = fixed
end
local burst = math.max(1, rate * burstSeconds)
local last = tonumber(redis.call('HGET', CFG, 'last:' .. bucket)) or now
local credit = num(redis.call('HGET', CFG, 'credit:' .. bucket))
if paused or now < opensAt then
  credit = 0
else
  -- Earned from the opening at the earliest: the wait before it is nobody's credit.
  credit = math.min(burst, credit + math.max(0, now - math.max(last, opensAt)) / 1000 * rate)
end

-- Admit the next places the credit pays for; places whose holder left cost nothing and are skipped.
local served = num(redis.call('HGET', CFG, 'served'))
local admitted = 0
while credit >= 1 and served < ranked do
  local n = math.min(math.floor(credit), ranked - served)
  local skipped = redis.call('ZCOUNT', GONE, '(' .. served, served + n)
  served = served + n
  credit = credit - (n - skipped)
  admitted = admitted + n - skipped
end
redis.call('ZREMRANGEBYSCORE', GONE, '-inf', served)
redis.call('HSET', CFG, 'served', served, 'last:' .. bucket, now, 'credit:' .. bucket, tostring(credit),
  'rate:' .. id, tostring(paused and 0 or rate), 'seen:' .. id, now)
if admitted > 0 then redis.call('HINCRBY', CFG, 'admitted', admitted) end

-- The fleet's rate: the sum of the instances seen lately (an instance gone for a minute is forgotten).
local fleet = 0
if fixed > 0 then fleet = paused and 0 or fixed end
local flat = redis.call('HGETALL', CFG)
for i = 1, #flat, 2 do
  local instance = string.match(flat[i], '^seen:(.+)$')
  if instance then
    local seen = tonumber(flat[i + 1]) or 0
    if now - seen > 60000 then
      redis.call('HDEL', CFG, 'seen:' .. instance, 'rate:' .. instance, 'last:' .. instance, 'credit:' .. instance)
    elseif fixed == 0 and now - seen <= 3000 then
      fleet = fleet + num(redis.call('HGET', CFG, 'rate:' .. instance))
    end
  end
end
local waiting = ranked - served - redis.call('ZCOUNT', GONE, '(' .. served, '+inf') + redis.call('ZCARD', DRAW)
return { 'ok', served, ranked, admitted, waiting, tostring(fleet), drew, num(redis.call('HGET', CFG, 'tickets')) }
