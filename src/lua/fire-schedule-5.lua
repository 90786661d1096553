--[[
  fire-schedule-5.lua: one tick of a recurring schedule, at most once across the fleet and across master
  handovers: only the holder of resque-scheduler's master lock enqueues (a fence, as in promote-4.lua), and only
  a tick later than the last one recorded for the schedule. The push is what Ruby's enqueue_from_config writes
  (SADD queues, RPUSH queue:<q> {"class","args"}), then HSET delayed:last_enqueued_at <name> <Time#to_s>.
  KEYS: 1 master lock  2 bunworker:schedule-ticks  3 delayed:last_enqueued_at  4 queues  5 queue:<q>
  ARGV: 1 our lock value  2 schedule name  3 tick (epoch ms)  4 queue  5 payload  6 Ruby Time#to_s of now
  Returns 1 if it enqueued, 0 if not the holder, -1 if the tick was already enqueued.
]]
local function want(k, t)
  local got = redis.call('TYPE', k).ok
  if got ~= 'none' and got ~= t then return bad(k, 'holds a ' .. got .. ', not a ' .. t) end
end
local e = want(KEYS[1], 'string') or want(KEYS[2], 'hash') or want(KEYS[3], 'hash') or want(KEYS[4], 'set') or want(KEYS[5], 'list')
if e then return e end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local last = redis.call('HGET', KEYS[2], ARGV[2])
if last and tonumber(last) and tonumber(last) >= tonumber(ARGV[3]) then return -1 end
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('RPUSH', KEYS[5], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[6])
return 1
