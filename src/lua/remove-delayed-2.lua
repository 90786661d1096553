--[[
  remove-delayed-2.lua: Ruby's remove_delayed (SMEMBERS timestamps:<item>, then LREM + SREM per bucket) as one
  step, which also removes the schedule entry of a bucket it empties (Ruby leaves that to the scheduler loop).
  A set member naming a missing bucket is removed from the set; one naming a key of another type is left alone.
  KEYS: 1 timestamps:<item>  2 delayed_queue_schedule
  ARGV: 1 item bytes  2 namespace
  Returns { removed, members naming a key that is not a list }.
]]
local function typeOf(k) return redis.call('TYPE', k).ok end
local t = typeOf(KEYS[1])
if t == 'none' then return { 0, 0 } end
if t ~= 'set' then return bad(KEYS[1], 'holds a ' .. t .. ', not a set') end
local st = typeOf(KEYS[2])
if st ~= 'none' and st ~= 'zset' then return bad(KEYS[2], 'holds a ' .. st .. ', not a zset') end
local plan, skipped = {}, 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local bt = typeOf(ARGV[2] .. m)
  if bt == 'list' or bt == 'none' then plan[#plan + 1] = m else skipped = skipped + 1 end
end
local removed = 0
for _, m in ipairs(plan) do
  local bucket = ARGV[2] .. m
  removed = removed + redis.call('LREM', bucket, 0, ARGV[1])
  redis.call('SREM', KEYS[1], m)
  if st == 'zset' and redis.call('EXISTS', bucket) == 0 then redis.call('ZREM', KEYS[2], string.sub(m, 9)) end
end
return { removed, skipped }
