--[[
  Retries (issue #17), prepended to lane-cycle-6.lua only: its acks "done" (a success of a class with a retry
  policy), "retry" (a failed attempt that runs again) and "giveup" (the last failure) carry resque-retry's
  bookkeeping, written in the same atomic step as the ack, so a crash between them cannot lose the job or
  retry it twice. Ordinary "ok"/"fail" acks never reach this code.
  The retry section of ARGV (after the failed acks' queue/raw extras): 4 shared fields, delayed:<ts> prefix,
  timestamps:<item> prefix, delayed_queue_schedule, queues; then RF fields per done/retry/giveup ack, in ack
  order: counter key (resque-retry:<Class>[:<sha1>], namespaced), failure key (failure-<counter key>),
  mode ("delay" | "queue"; "" for done/giveup), due second, item (the bucket item {"class","args","queue"}, or
  the queue payload {"class","args"}), queue, failure-key value ("" = none), its TTL, counter EXPIRE ("" = none).
  resque-retry's commands, replayed: retry = SETNX counter -1, INCR (its before_perform; bunworker counts an
  attempt when it is acknowledged, not when it starts), EXPIRE if configured, the delayed push (or enqueue_to
  when the delay is 0), SETEX failure-<key> 2 x delay; giveup = DEL counter, DEL failure-<key>; done = DEL counter.
]]
local RF = 9
local function retryType(key, want)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= want then return bad(key, 'is a ' .. t .. ', not a ' .. want) end
end
-- Every key a retry ack writes, checked before the script's first write (DEL and SETEX accept any type).
local function retryCheck(outcome, at, shared, queuePrefix)
  if outcome ~= 'retry' then return nil end
  local counterKey = ARGV[at]
  local v = redis.pcall('GET', counterKey)
  if type(v) == 'table' then return bad(counterKey, 'is not a string') end
  if v and not counter(v) then return bad(counterKey, 'is not an integer') end
  if ARGV[at + 2] == 'delay' then
    return retryType(ARGV[shared] .. ARGV[at + 3], 'list') or retryType(ARGV[shared + 1] .. ARGV[at + 4], 'set') or retryType(ARGV[shared + 2], 'zset')
  end
  return retryType(ARGV[shared + 3], 'set') or retryType(queuePrefix .. ARGV[at + 5], 'list')
end
local function retryApply(outcome, at, shared, queuePrefix)
  local counterKey = ARGV[at]
  if outcome == 'done' then redis.call('DEL', counterKey) return end
  if outcome == 'giveup' then redis.call('DEL', counterKey, ARGV[at + 1]) return end
  redis.call('SETNX', counterKey, '-1')
  redis.call('INCR', counterKey)
  if ARGV[at + 8] ~= '' then redis.call('EXPIRE', counterKey, ARGV[at + 8]) end
  local ts, item, queue = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  if ARGV[at + 2] == 'delay' then
    redis.call('RPUSH', ARGV[shared] .. ts, item)
    redis.call('SADD', ARGV[shared + 1] .. item, 'delayed:' .. ts)
    redis.call('ZADD', ARGV[shared + 2], ts, ts)
  else
    redis.call('SADD', ARGV[shared + 3], queue)
    redis.call('RPUSH', queuePrefix .. queue, item)
  end
  if ARGV[at + 6] ~= '' then redis.call('SETEX', ARGV[at + 1], ARGV[at + 7], ARGV[at + 6]) end
end
-- Runs f (retryCheck or retryApply) over the retry acks that apply (or whose state is gone), in ack order;
-- returns the first error f returns.
local function retryEach(f, A, retryNo, applies, gone, outcome, retryAt, queuePrefix)
  for k = 1, A do
    if retryNo[k] and (applies[k] or gone[k]) then
      local e = f(outcome[k], retryAt + 4 + RF * (retryNo[k] - 1), retryAt, queuePrefix)
      if e then return e end
    end
  end
end
