--[[
  Hand back everything a worker process holds and unregister it, atomically. Used for our own shutdown
  (after the deadline), for a predecessor with our pid found at start-up, and for dead processes found by
  the reaper. Running it twice is harmless: the second run finds nothing.

  KEYS[1] in-flight hash of the process    KEYS[2] its landings set    KEYS[3] workers
  KEYS[4] workers:heartbeat                KEYS[5] bunworker:processes KEYS[6] bunworker:beats
  ARGV[1] process ("host:pid")             ARGV[2] "requeue" | "fail" (in-flight jobs become failure entries)
  ARGV[3] prefix of queue:<q>              ARGV[4] prefix of worker:<id> (also :started)
  ARGV[5] prefix of stat:processed:<id>    ARGV[6] prefix of stat:failed:<id>
  ARGV[7] prefix of landing:<proc>:        ARGV[8] failed list    ARGV[9] failed_at
  ARGV[10] "unregister" | "keep" (keep registration: hand back only)
  Returns { requeued, failed }
]]
local requeued, failed = 0, 0
-- Landed jobs were taken after the in-flight ones, so they go back first and end up behind them.
for _, queue in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  while redis.call('LMOVE', ARGV[7] .. queue, ARGV[3] .. queue, 'RIGHT', 'LEFT') do requeued = requeued + 1 end
end
redis.call('DEL', KEYS[2])
local records = redis.call('HGETALL', KEYS[1])
for k = 1, #records, 2 do
  local id, v = records[k], records[k + 1]
  local _, queue, raw = record(v)
  if ARGV[2] == 'fail' then
    local ok, decoded = pcall(cjson.decode, raw)
    local class = (ok and type(decoded) == 'table' and type(decoded.class) == 'string') and decoded.class or '?'
    local payload = payloadJson(raw, not (ok and type(decoded) == 'table' and utf8ok(raw)))
    redis.call('RPUSH', ARGV[8], '{"failed_at":"' .. ARGV[9] .. '","payload":' .. payload ..
      ',"exception":"Resque::PruneDeadWorkerDirtyExit","error":' .. jstr('Worker ' .. id .. ' did not gracefully exit while processing ' .. class) ..
      ',"backtrace":[],"worker":' .. jstr(id) .. ',"queue":' .. jstr(queue) .. '}')
    failed = failed + 1
  else
    redis.call('LPUSH', ARGV[3] .. queue, raw)
    requeued = requeued + 1
  end
  redis.call('DEL', ARGV[4] .. id)
end
redis.call('DEL', KEYS[1])
if ARGV[10] == 'unregister' then
  local ids = redis.call('HGET', KEYS[5], ARGV[1])
  if ids then
    for _, id in ipairs(cjson.decode(ids)) do
      redis.call('SREM', KEYS[3], id)
      redis.call('DEL', ARGV[4] .. id, ARGV[4] .. id .. ':started', ARGV[5] .. id, ARGV[6] .. id)
      redis.call('HDEL', KEYS[4], id)
    end
  end
  redis.call('HDEL', KEYS[5], ARGV[1])
  redis.call('HDEL', KEYS[6], ARGV[1])
end
return { requeued, failed }
