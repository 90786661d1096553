--[[
  Write the outcomes keep-outcomes-2.lua kept (issue #14): every entry counts in stat:processed, a failed one
  also in stat:failed, with its failure entry appended to the failed list byte for byte; then the outcomes
  list is deleted. Run at every worker start, after the preflight (so the keys that stopped a worker are fixed
  by then). The per-worker counters are not bumped: the worker ids that ran those jobs were unregistered.
  All or nothing: every key is checked before the first write ("BADKEY <key> <why>").
  scripts.ts (recordOutcomes) alone knows this layout.

  KEYS[1] bunworker:outcomes   KEYS[2] stat:processed   KEYS[3] stat:failed   KEYS[4] failed
  Returns { processed, failed }
]]
local outcomesKey, processedKey, failedCountKey, failedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TYPE', outcomesKey).ok
if t == 'none' then return { 0, 0 } end
if t ~= 'list' then return bad(outcomesKey, 'is a ' .. t .. ', not a list') end
local items = redis.call('LRANGE', outcomesKey, 0, -1)
local head = '{"outcome":"failed","failure":'
local failures = {}
for _, item in ipairs(items) do
  if string.sub(item, 1, #head) == head then failures[#failures + 1] = string.sub(item, #head + 1, -2) end
end
local function counterKey(key)
  local v = redis.pcall('GET', key)
  if type(v) == 'table' and v.err then return bad(key, 'is not a string') end
  if v and not counter(v) then return bad(key, 'is not an integer') end
end
local e = counterKey(processedKey)
if e then return e end
if #failures > 0 then
  e = counterKey(failedCountKey)
  if e then return e end
  local ft = redis.call('TYPE', failedKey).ok
  if ft ~= 'list' and ft ~= 'none' then return bad(failedKey, 'is a ' .. ft .. ', not a list') end
end
-- Checked: from here on nothing can fail.
redis.call('INCRBY', processedKey, #items)
if #failures > 0 then
  for from = 1, #failures, 1000 do redis.call('RPUSH', failedKey, unpack(failures, from, math.min(#failures, from + 999))) end
  redis.call('INCRBY', failedCountKey, #failures)
end
redis.call('DEL', outcomesKey)
return { #items, #failures }
