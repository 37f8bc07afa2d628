-- Shared prelude of every stock-gate script (prepended by gate-store.ts). All keys of one sale share the
-- hash tag {sale:<id>}, so they live in one Redis Cluster slot and one script may touch them all.
--   KEYS[1] meta     hash: state, starts_at, ends_at (ms), limit, ttl_ms, total, sku, title,
--                          uncommitted (units held by reservations not yet persisted), committed (units of
--                          persisted reservations still recorded), seq (bumped by every change),
--                          changed_at (ms of the last gate activity), gate ('rebuilding' while rebuilt)
--   KEYS[2] avail    string: units the gate may still hand out
--   KEYS[3] users    hash: userId -> units the buyer holds in this sale (live reservations)
--   KEYS[4] res      hash: orderId -> "userId|qty|expiresAtMs|state|commitSeq" (released ones stay, as tombstones)
--   KEYS[5] exp      zset: orderId -> expiresAtMs, reservations in state 'reserved' only (the expiry queue)
--   KEYS[6] commits  zset: orderId -> seq at which it was marked committed (the reconciler's race guard)
-- Reservation states: reserved -> committing (claimed by the worker) -> committed (persisted) -> confirmed
-- (paid); released / expired are tombstones.
local META, AVAIL, USERS, RES, EXP, COMMITS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

-- Stock changes go out on a pub/sub channel of the same key prefix: the gateway answers sold out without
-- calling anyone while a sale has nothing left (announce below).
local KEY_PREFIX, SALE_ID = string.match(META, '^(.*)inv:{sale:(.*)}:meta$')
local STOCK_CHANNEL = (KEY_PREFIX or '') .. 'inv:stock'

local UNCOMMITTED = { reserved = true, committing = true }
local PERSISTED = { committed = true, confirmed = true }
local RANK = { reserved = 0, committing = 1, committed = 2, confirmed = 3 }

local function decode(v)
  local u, q, x, s, cs = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return { user = u, qty = tonumber(q), expires = x, state = s, cseq = tonumber(cs) or 0 }
end

local function encode(r)
  return r.user .. '|' .. string.format('%d', r.qty) .. '|' .. r.expires .. '|' .. r.state .. '|' .. string.format('%d', r.cseq)
end

local function int(n)
  return string.format('%d', n)
end

-- 'missing' when the sale's state is gone (never loaded, or Redis lost it), 'rebuilding' while a rebuild
-- holds the gate, else 'ready'.
local function gate_state()
  local m = redis.call('HMGET', META, 'state', 'gate')
  if not m[1] or redis.call('EXISTS', AVAIL) == 0 then return 'missing' end
  if m[2] == 'rebuilding' then return 'rebuilding' end
  return 'ready'
end

-- Every change bumps seq; gate activity (not repairs) also moves changed_at, which the reconciler's
-- "quiet" rule reads.
local function bump(now, activity)
  local seq = redis.call('HINCRBY', META, 'seq', 1)
  if activity then redis.call('HSET', META, 'changed_at', now) end
  return seq
end

-- Publishes {sku, saleId, available} when the sale's availability changed (a reserve, units back, sold
-- out), or always when `force`. Zero and back are what the edge answers from; the levels in between let it
-- tell how many queued buyers can still need the order service. Refusals change nothing: a sold-out flash
-- sale's crowd publishes nothing.
local function announce(before, force)
  local after = tonumber(redis.call('GET', AVAIL) or '0')
  if force or before ~= after then
    local sku = redis.call('HGET', META, 'sku') or ''
    redis.call('PUBLISH', STOCK_CHANNEL, cjson.encode({ sku = sku, saleId = SALE_ID, available = after }))
  end
end

-- Gives a live reservation's units back to the gate and to its buyer, and leaves a tombstone.
local function release_one(orderId, r, tombstone)
  local before = tonumber(redis.call('GET', AVAIL) or '0')
  redis.call('INCRBY', AVAIL, r.qty)
  announce(before, false)
  local left = redis.call('HINCRBY', USERS, r.user, -r.qty)
  if left <= 0 then redis.call('HDEL', USERS, r.user) end
  if UNCOMMITTED[r.state] then
    redis.call('HINCRBY', META, 'uncommitted', -r.qty)
  else
    redis.call('HINCRBY', META, 'committed', -r.qty)
  end
  r.state = tombstone
  redis.call('HSET', RES, orderId, encode(r))
  redis.call('ZREM', EXP, orderId)
  redis.call('ZREM', COMMITS, orderId)
end

local function reply(r)
  return { r.user, int(r.qty), r.expires, r.state }
end
