--[[
  The per-minute history the dashboard charts (processed and failed per minute over the last hour): the first
  call in each minute (Redis clock) records the global counters Resque keeps, so any worker of the fleet,
  Ruby's included, is counted; the dashboard charts the differences between minutes. Called by each worker's
  heartbeat once per minute of its own clock, and by the dashboard itself. Four commands (the call, TIME, MGET,
  HSETNX) whether or not this minute is recorded already: an idle worker is the only recorder of every minute,
  and this is part of its idle traffic (#17: one command a second with the promoter).
  Bounded: older minutes are deleted once it holds more than 70 fields, looked at when ARGV[1] is "1": a worker
  asks in every tenth minute of its clock (at most ~80 fields between two looks), the dashboard every time.
  Statistics only: nothing to recover if lost.

  KEYS[1] bunworker-history (HASH minute since the epoch -> "<processed>|<failed>")
  KEYS[2] stat:processed   KEYS[3] stat:failed
  ARGV[1] "1" to look at the bound now
  Returns 1 when it recorded this minute, 0 when it was recorded, or an error "BADKEY <key> <why>".
]]
local historyKey = KEYS[1]
local minute = math.floor(tonumber(redis.call('TIME')[1]) / 60)
-- One MGET for both counters (a key of another type reads as nil, like a missing one).
local counters = redis.call('MGET', KEYS[2], KEYS[3])
local function counter(v)
  if type(v) ~= 'string' or not tonumber(v) then return '0' end
  return v
end
-- The only write that can fail (a key of another type) is the first: then nothing was written. HSETNX is the
-- "recorded already?" test too, so no HEXISTS or TYPE is spent on an idle worker's minute.
local set = redis.pcall('HSETNX', historyKey, minute, counter(counters[1]) .. '|' .. counter(counters[2]))
if type(set) == 'table' then return redis.error_reply('BADKEY ' .. historyKey .. ' is a ' .. redis.call('TYPE', historyKey).ok .. ', not a hash') end
if ARGV[1] == '1' and redis.call('HLEN', historyKey) > 70 then
  for _, field in ipairs(redis.call('HKEYS', historyKey)) do
    local m = tonumber(field)
    if not m or m < minute - 65 then redis.call('HDEL', historyKey, field) end
  end
end
return set
