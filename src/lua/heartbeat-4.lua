--[[
  Register (first call) or heartbeat (every later call) all worker ids of this process. Re-adds any id
  that was removed from outside (a Ruby worker's prune, Resque.remove_worker), so such a removal heals
  within one heartbeat interval. scripts.ts (heartbeat) alone knows this layout.

  KEYS[1] workers   KEYS[2] workers:heartbeat   KEYS[3] bunworker:processes   KEYS[4] bunworker:beats
  ARGV[1] process ("host:pid")   ARGV[2] heartbeat value (Time.parse-able)   ARGV[3] started value
  ARGV[4] prefix of worker:<id>  ARGV[5] suffix of worker:<id>:started   ARGV[6] JSON array of the ids
  ARGV[7..] the ids
  Returns the number of ids that were not registered.
]]
local workersKey, heartbeatsKey, processesKey, beatsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local proc, beat, started, workerPrefix, startedSuffix, idsJson = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local firstId = 7
-- A constant number of commands per beat, whatever the concurrency: SMISMEMBER finds ids removed from
-- outside, one HSET stamps them all, SADD and SET NX run only for the missing ones. Chunks of 1000 ids keep
-- unpack() below Lua's stack limit.
local added = 0
for from = firstId, #ARGV, 1000 do
  local to = math.min(#ARGV, from + 999)
  local ids, stamps, missing = {}, {}, {}
  for k = from, to do
    ids[#ids + 1] = ARGV[k]
    stamps[#stamps + 1] = ARGV[k]
    stamps[#stamps + 1] = beat
  end
  redis.call('HSET', heartbeatsKey, unpack(stamps))
  local member = redis.call('SMISMEMBER', workersKey, unpack(ids))
  for k, id in ipairs(ids) do
    if member[k] == 0 then
      missing[#missing + 1] = id
      redis.call('SET', workerPrefix .. id .. startedSuffix, started, 'NX')
    end
  end
  if #missing > 0 then
    redis.call('SADD', workersKey, unpack(missing))
    added = added + #missing
  end
end
redis.call('HSET', processesKey, proc, idsJson)
local t = redis.call('TIME')
redis.call('HSET', beatsKey, proc, tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
return added
