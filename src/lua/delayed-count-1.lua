--[[
  delayed-count-1.lua: Ruby's count_all_scheduled_jobs (LLEN of every bucket the schedule names), read-only.
  A member whose bucket is not a list counts nothing.
  KEYS: 1 delayed_queue_schedule   ARGV: 1 prefix of the buckets ("<ns>delayed:")
]]
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return 0 end
if t ~= 'zset' then return bad(KEYS[1], 'holds a ' .. t .. ', not a zset') end
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. m
  if redis.call('TYPE', k).ok == 'list' then n = n + redis.call('LLEN', k) end
end
return n
