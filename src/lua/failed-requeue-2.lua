--[[
  Resque::Failure.requeue for many entries at once (reference section 4): each entry gets its retried_at and
  stays in place (LSET), and its job is pushed as Job.create does (SADD queues, RPUSH queue:<q>).
  An entry is found by its bytes, not trusted by index: others may append to or remove from the failed list
  between the caller's read and this call. The index hint is tried first (shifted by what earlier entries of
  this call were off by), then LPOS over the list. An entry no longer there is skipped and counted.
  All or nothing: every entry is located and every key type checked before the first write.

  KEYS[1] failed   KEYS[2] queues
  ARGV[1] prefix of queue:<q>   ARGV[2] shift: how far the previous call found its entries from their hints
  then groups of 5: index hint, entry bytes, new entry bytes, queue, job bytes
  Returns { requeued, missing, shift }, or an error "BADKEY <key> <why>".
]]
local failedKey, queuesKey, queuePrefix = KEYS[1], KEYS[2], ARGV[1]
local function badkey(key, why) return redis.error_reply('BADKEY ' .. key .. ' ' .. why) end
local t = redis.call('TYPE', failedKey).ok
if t ~= 'list' and t ~= 'none' then return badkey(failedKey, 'is a ' .. t .. ', not a list') end
t = redis.call('TYPE', queuesKey).ok
if t ~= 'set' and t ~= 'none' then return badkey(queuesKey, 'is a ' .. t .. ', not a set') end
local found, shift, missing = {}, tonumber(ARGV[2]), 0
for g = 3, #ARGV, 5 do
  local hint, old, queue = tonumber(ARGV[g]), ARGV[g + 1], ARGV[g + 3]
  local qt = redis.call('TYPE', queuePrefix .. queue).ok
  if qt ~= 'list' and qt ~= 'none' then return badkey(queuePrefix .. queue, 'is a ' .. qt .. ', not a list') end
  local at = hint + shift
  if redis.call('LINDEX', failedKey, at) ~= old then at = redis.call('LPOS', failedKey, old) end
  if at then
    shift = at - hint
    found[#found + 1] = { at, g }
  else
    missing = missing + 1
  end
end
for _, f in ipairs(found) do
  local g = f[2]
  redis.call('LSET', failedKey, f[1], ARGV[g + 2])
  redis.call('SADD', queuesKey, ARGV[g + 3])
  redis.call('RPUSH', queuePrefix .. ARGV[g + 3], ARGV[g + 4])
end
return { #found, missing, shift }
