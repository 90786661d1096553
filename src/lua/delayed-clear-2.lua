--[[
  delayed-clear-2.lua: removes the first ARGV[3] jobs of one second (the caller repeats it while `more`), each
  with its timestamps member, and the schedule entry once the bucket is empty; a batch at a time so that a
  second holding 100,000 jobs never blocks Redis for long. Each batch is one step: an item is either still in
  the bucket or gone with its member, and a promoter running meanwhile takes each item at most once either way.
  A copy of the same bytes further on in the bucket loses its member one batch early (the next batch removes it).
  KEYS: 1 delayed:<ts>  2 delayed_queue_schedule
  ARGV: 1 ts  2 namespace  3 batch size
  Returns { removed, more 0|1 }.
]]
local function typeOf(k) return redis.call('TYPE', k).ok end
local bt, st = typeOf(KEYS[1]), typeOf(KEYS[2])
if bt ~= 'none' and bt ~= 'list' then return bad(KEYS[1], 'holds a ' .. bt .. ', not a list') end
if st ~= 'none' and st ~= 'zset' then return bad(KEYS[2], 'holds a ' .. st .. ', not a zset') end
local items = {}
if bt == 'list' then items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1) end
local member, sets = 'delayed:' .. ARGV[1], {}
for _, item in ipairs(items) do
  local tk = ARGV[2] .. 'timestamps:' .. item
  if sets[tk] == nil then sets[tk] = typeOf(tk) == 'set' end
end
for tk, isSet in pairs(sets) do
  if isSet then redis.call('SREM', tk, member) end
end
if #items > 0 then redis.call('LTRIM', KEYS[1], #items, -1) end
local left = redis.call('EXISTS', KEYS[1])
if left == 0 and st == 'zset' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return { #items, left }
