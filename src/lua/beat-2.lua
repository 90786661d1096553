--[[
  A beat from the beat thread (beat-thread.js, issue #14), sent while the main thread's event loop is blocked by
  a job: it keeps this process's beat and its slots' Resque heartbeats fresh, so no worker on another host (and
  no Ruby prune) takes a busy process for a dead one. It only stamps a process that is still registered: a
  process released while it was frozen is registered again by the main thread's heartbeat (heartbeat-4.lua),
  which also re-adds ids and the process entry.
  All or nothing: both keys are checked before the first write.
  pulse.ts alone knows this layout.

  KEYS[1] bunworker:beats   KEYS[2] workers:heartbeat
  ARGV[1] process ("host:pid:instance")   ARGV[2] identity and validity ("<identity>|<valid ms>")
  ARGV[3] workers:heartbeat value (Time.parse-able)   ARGV[4..] the ids
  Returns 1 when it stamped, 0 when the process is not registered (or a key has the wrong type).
]]
local beatsKey, heartbeatsKey = KEYS[1], KEYS[2]
local proc, identity, beat = ARGV[1], ARGV[2], ARGV[3]
local registered = redis.pcall('HEXISTS', beatsKey, proc)
if type(registered) ~= 'number' or registered == 0 then return 0 end
local kind = redis.call('TYPE', heartbeatsKey).ok
if kind ~= 'hash' and kind ~= 'none' then return 0 end
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', beatsKey, proc, tostring(nowMs) .. '|' .. identity)
for from = 4, #ARGV, 1000 do
  local stamps = {}
  for k = from, math.min(#ARGV, from + 999) do
    stamps[#stamps + 1] = ARGV[k]
    stamps[#stamps + 1] = beat
  end
  redis.call('HSET', heartbeatsKey, unpack(stamps))
end
return 1
