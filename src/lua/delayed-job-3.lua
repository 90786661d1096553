--[[
  delayed-job-3.lua: one delayed item at one second, for an operator (dashboard, `bunworker delayed`), as one step.
  'remove': every copy of the item at that second goes, with its timestamps member and, when the bucket
    empties, its schedule entry (Ruby's remove_delayed_job_from_timestamp, resque-web's "Cancel").
  'now': one copy moves to the bucket of the current second (Redis clock), whose schedule entry gets score 0, as
    `enqueue-now <second>` gives a whole second: whoever holds resque-scheduler's master lock (a bunworker
    promoter or a Ruby scheduler) promotes it at its next look. Pushing it to its queue from here could race a
    Ruby scheduler's non-atomic batch on the bucket (reference 2.3); only the lock holder may move items out.
    An item whose second is already due just gets score 0 for that second.
  The timestamps member of a bucket stays while a copy of the item remains in it.
  KEYS: 1 delayed:<ts>  2 timestamps:<item>  3 delayed_queue_schedule
  ARGV: 1 'remove' | 'now'  2 item bytes  3 ts  4 namespace
  Returns how many copies were removed or moved (0: the item was no longer at that second).
]]
local function typeOf(k) return redis.call('TYPE', k).ok end
local bt, tt, st = typeOf(KEYS[1]), typeOf(KEYS[2]), typeOf(KEYS[3])
if bt == 'none' then return 0 end
if bt ~= 'list' then return bad(KEYS[1], 'holds a ' .. bt .. ', not a list') end
if tt ~= 'none' and tt ~= 'set' then return bad(KEYS[2], 'holds a ' .. tt .. ', not a set') end
if st ~= 'none' and st ~= 'zset' then return bad(KEYS[3], 'holds a ' .. st .. ', not a zset') end
local item, ts, member = ARGV[2], ARGV[3], 'delayed:' .. ARGV[3]
local function tidy()
  if not redis.call('LPOS', KEYS[1], item) and tt == 'set' then redis.call('SREM', KEYS[2], member) end
  if st == 'zset' and redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[3], ts) end
end
if ARGV[1] == 'remove' then
  local n = redis.call('LREM', KEYS[1], 0, item)
  if n > 0 then tidy() end
  return n
end
if not redis.call('LPOS', KEYS[1], item) then return 0 end
local nowS = redis.call('TIME')[1]
if tonumber(ts) <= tonumber(nowS) then
  redis.call('ZADD', KEYS[3], 0, ts)
  return 1
end
local target = ARGV[4] .. 'delayed:' .. nowS
local gt = typeOf(target)
if gt ~= 'none' and gt ~= 'list' then return bad(target, 'holds a ' .. gt .. ', not a list') end
redis.call('LREM', KEYS[1], 1, item)
redis.call('RPUSH', target, item)
redis.call('SADD', KEYS[2], 'delayed:' .. nowS)
tt = 'set'
redis.call('ZADD', KEYS[3], 0, nowS)
st = 'zset'
tidy()
return 1
