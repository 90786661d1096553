--[[
  enqueue-at-5.lua: one delayed job, resque-scheduler's delayed_push as one atomic step (Ruby sends three
  plain commands; a crash between them leaves a bucket no schedule entry points to). A time already due by the
  Redis clock goes straight to its queue, as Ruby's enqueue_at does.
  KEYS: 1 delayed:<ts>  2 timestamps:<item>  3 delayed_queue_schedule  4 queues  5 queue:<q>
  ARGV: 1 ts (integer string)  2 item {"class","args","queue"}  3 queue name  4 queue payload {"class","args"}
  Returns "queued" or "delayed"; every key is checked before the first write.
]]
local function typeOf(k) return redis.call('TYPE', k).ok end
local function want(k, t)
  local got = typeOf(k)
  if got ~= 'none' and got ~= t then return bad(k, 'holds a ' .. got .. ', not a ' .. t) end
end
local ts = ARGV[1]
local now = tonumber(redis.call('TIME')[1])
if tonumber(ts) <= now then
  local e = want(KEYS[4], 'set') or want(KEYS[5], 'list')
  if e then return e end
  redis.call('SADD', KEYS[4], ARGV[3])
  redis.call('RPUSH', KEYS[5], ARGV[4])
  return 'queued'
end
local e = want(KEYS[1], 'list') or want(KEYS[2], 'set') or want(KEYS[3], 'zset')
if e then return e end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], 'delayed:' .. ts)
redis.call('ZADD', KEYS[3], ts, ts)
return 'delayed'
