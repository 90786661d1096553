--[[
  The per-minute history the dashboard charts (processed and failed per minute over the last hour): the first
  call in each minute (Redis clock) records the global counters Resque keeps, so any worker of the fleet,
  Ruby's included, is counted; the dashboard charts the differences between minutes. Called with every
  heartbeat and by the dashboard itself: one command per call, nothing when this minute is recorded already.
  Bounded: at most 70 fields; older minutes are deleted here. Statistics only: nothing to recover if lost.

  KEYS[1] bunworker-history (HASH minute since the epoch -> "<processed>|<failed>")
  KEYS[2] stat:processed   KEYS[3] stat:failed
  Returns 1 when it recorded this minute, 0 when it was recorded, or an error "BADKEY <key> <why>".
]]
local historyKey = KEYS[1]
local t = redis.call('TYPE', historyKey).ok
if t ~= 'hash' and t ~= 'none' then return redis.error_reply('BADKEY ' .. historyKey .. ' is a ' .. t .. ', not a hash') end
local minute = math.floor(tonumber(redis.call('TIME')[1]) / 60)
if redis.call('HEXISTS', historyKey, minute) == 1 then return 0 end
local function counter(key)
  local v = redis.pcall('GET', key)
  if type(v) ~= 'string' or not tonumber(v) then return '0' end
  return v
end
redis.call('HSET', historyKey, minute, counter(KEYS[2]) .. '|' .. counter(KEYS[3]))
if redis.call('HLEN', historyKey) > 70 then
  for _, field in ipairs(redis.call('HKEYS', historyKey)) do
    local m = tonumber(field)
    if not m or m < minute - 65 then redis.call('HDEL', historyKey, field) end
  end
end
return 1
