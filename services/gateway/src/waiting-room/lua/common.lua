-- Shared prelude of every waiting-room script (prepended by store.ts). All keys of one room share the hash
-- tag {wr:<saleId>}, so they live in one Redis Cluster slot and one script may touch them all.
--   KEYS[1] cfg    hash: sku, mode (fifo | lottery), opens_at (ms), pass_ttl_ms, rate (a fixed fleet rate per
--                        second; 0 = measured by each gateway), tickets (tickets handed out), ranked (places in
--                        line handed out), served (the admission watermark: places up to it are admitted),
--                        drawn (1 once a lottery room has drawn), left, admitted; and per gateway instance
--                        <field>:<instance> for credit, last (ms), rate and seen (ms)
--   KEYS[2] users  hash: userId -> "place|joinedAtMs|ticket|admittedAtMs" (place 0: in a lottery not drawn yet;
--                        admittedAtMs 0: not admitted yet, or not told yet)
--   KEYS[3] draw   zset: userId -> a random score, the entrants of a lottery room before its draw
--   KEYS[4] gone   zset: place -> place, places whose holder left the line before being admitted
local CFG, USERS, DRAW, GONE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function num(v)
  return tonumber(v) or 0
end

local function decode(v)
  local place, joined, ticket, admitted = string.match(v, '^(%d+)|(%d+)|(%d+)|(%d+)$')
  return { place = tonumber(place), joined = tonumber(joined), ticket = tonumber(ticket), admitted = tonumber(admitted) }
end

local function encode(t)
  return string.format('%d|%d|%d|%d', t.place, t.joined, t.ticket, t.admitted)
end

-- Every key of the room lives as long as its cfg (set to the sale's end by the admin's enable).
local function keepWithCfg(key)
  local ttl = redis.call('PTTL', CFG)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
