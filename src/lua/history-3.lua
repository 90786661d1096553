--[[
  The per-minute history the dashboard charts (processed and failed per minute over the last hour): the first
  call in each minute (Redis clock) records the global counters Resque keeps, so any worker of the fleet,
  Ruby's included, is counted; the dashboard charts the differences between minutes. Called by each worker's
  heartbeat once per minute of its own clock, and by the dashboard itself: three commands (the call, TIME,
  HEXISTS) when this minute is recorded already, three more when not.
  Bounded: at most 70 fields; older minutes are deleted here. Statistics only: nothing to recover if lost.

  KEYS[1] bunworker-history (HASH minute since the epoch -> "<processed>|<failed>")
  KEYS[2] stat:processed   KEYS[3] stat:failed
  Returns 1 when it recorded this minute, 0 when it was recorded, or an error "BADKEY <key> <why>".
]]
local historyKey = KEYS[1]
local minute = math.floor(tonumber(redis.call('TIME')[1]) / 60)
-- HEXISTS is the type check too (no separate TYPE: it runs once a minute in every idle worker).
local seen = redis.pcall('HEXISTS', historyKey, minute)
if type(seen) == 'table' then return redis.error_reply('BADKEY ' .. historyKey .. ' is a ' .. redis.call('TYPE', historyKey).ok .. ', not a hash') end
if seen == 1 then return 0 end
-- One MGET for both counters (a key of another type reads as nil, like a missing one).
local counters = redis.call('MGET', KEYS[2], KEYS[3])
local function counter(v)
  if type(v) ~= 'string' or not tonumber(v) then return '0' end
  return v
end
redis.call('HSET', historyKey, minute, counter(counters[1]) .. '|' .. counter(counters[2]))
if redis.call('HLEN', historyKey) > 70 then
  for _, field in ipairs(redis.call('HKEYS', historyKey)) do
    local m = tonumber(field)
    if not m or m < minute - 65 then redis.call('HDEL', historyKey, field) end
  end
end
return 1
