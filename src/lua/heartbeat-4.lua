--[[
  Register (first call) or heartbeat (every later call) all worker ids of this process, and return every
  process's beat so the caller can find the dead ones (recovery.ts) without another round trip. Re-adds any
  id that was removed from outside (a Ruby worker's prune, Resque.remove_worker, our own reaper while this
  process was frozen), so such a removal heals within one heartbeat interval.
  All or nothing (issue #9): the reads come first and check every key's type; the first write is the only one
  that can still fail (on a key type no read saw), and then nothing has been written. Errors: "BADKEY <key> <why>".
  scripts.ts (heartbeat) alone knows this layout.

  KEYS[1] workers   KEYS[2] workers:heartbeat   KEYS[3] bunworker:processes   KEYS[4] bunworker:beats
  ARGV[1] process ("host:pid:instance")   ARGV[2] heartbeat value (Time.parse-able)   ARGV[3] started value
  ARGV[4] prefix of worker:<id>  ARGV[5] suffix of worker:<id>:started   ARGV[6] this process's identity
  ARGV[7] JSON array of the ids  ARGV[8..] the ids
  Returns { ids that were not registered, Redis time in ms, 1 if the process entry was rebuilt, then the beats
  hash as field, value, ... }
]]
local workersKey, heartbeatsKey, processesKey, beatsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local proc, beat, started, workerPrefix, startedSuffix, identity, idsJson = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local firstId = 8
local beats = redis.pcall('HGETALL', beatsKey)
if beats.err then return bad(beatsKey, 'is not a hash') end
-- Chunks of 1000 ids keep unpack() below Lua's stack limit.
local missing = {}
for from = firstId, #ARGV, 1000 do
  local member = redis.pcall('SMISMEMBER', workersKey, unpack(ARGV, from, math.min(#ARGV, from + 999)))
  if member.err then return bad(workersKey, 'is not a set') end
  for k, m in ipairs(member) do if m == 0 then missing[#missing + 1] = ARGV[from + k - 1] end end
end
-- The process entry is what release reads to find our ids: one deleted or garbled from outside is written again
-- (issue #14), and said so in the reply.
local entry = redis.pcall('HGET', processesKey, proc)
if type(entry) == 'table' and entry.err then return bad(processesKey, 'is not a hash') end
local rebuild = entry ~= idsJson
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- A constant number of commands per beat, whatever the concurrency: one HSET stamps every id; SADD, SET NX
-- and the process entry are written only for ids that were missing.
for from = firstId, #ARGV, 1000 do
  local stamps = {}
  for k = from, math.min(#ARGV, from + 999) do
    stamps[#stamps + 1] = ARGV[k]
    stamps[#stamps + 1] = beat
  end
  local ok = redis.pcall('HSET', heartbeatsKey, unpack(stamps))
  if type(ok) == 'table' and ok.err then return bad(heartbeatsKey, 'is not a hash') end
end
redis.call('HSET', beatsKey, proc, tostring(nowMs) .. '|' .. identity)
if #missing > 0 then
  for _, id in ipairs(missing) do redis.call('SET', workerPrefix .. id .. startedSuffix, started, 'NX') end
  for from = 1, #missing, 1000 do redis.call('SADD', workersKey, unpack(missing, from, math.min(#missing, from + 999))) end
end
if rebuild then redis.call('HSET', processesKey, proc, idsJson) end
-- "rebuilt" only for an entry that existed in another form or vanished while our ids stayed registered; a
-- first registration (every id missing, no entry) is not news.
local out = { #missing, nowMs, (rebuild and not (entry == false and #missing == #ARGV - firstId + 1)) and 1 or 0 }
for _, v in ipairs(beats) do out[#out + 1] = v end
return out
