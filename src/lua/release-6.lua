--[[
  Hand back everything a worker process holds and unregister it, atomically. Used for our own shutdown (after
  the deadline), for a predecessor with our pid found at start-up, and for dead processes found by the reaper.
  Running it twice is harmless: the second run finds nothing.

  KEYS[1] the process's lanes hash   KEYS[2] its landings set   KEYS[3] workers   KEYS[4] workers:heartbeat
  KEYS[5] bunworker:processes        KEYS[6] bunworker:beats
  ARGV[1] process ("host:pid")       ARGV[2] "requeue" | "fail" (running jobs become Resque's prune failures)
  ARGV[3] prefix of queue:<q>        ARGV[4] prefix of worker:<id> (and :started)
  ARGV[5] prefix of stat:processed:<id>   ARGV[6] prefix of stat:failed:<id>   ARGV[7] prefix of its landing lists
  ARGV[8] failed list                ARGV[9] failed_at
  Returns { requeued, failed }
]]
local requeued, failed = 0, 0
local function failure(payload, exception, error, id, queue)
  redis.call('RPUSH', ARGV[8], '{"failed_at":"' .. ARGV[9] .. '","payload":' .. payload .. ',"exception":"' .. exception ..
    '","error":' .. jstr(error) .. ',"backtrace":[],"worker":' .. jstr(id) .. ',"queue":' .. jstr(queue) .. '}')
  failed = failed + 1
end
-- Landed jobs were taken after the running ones, so they go back first and end up behind them.
for _, queue in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  while redis.call('LMOVE', ARGV[7] .. queue, ARGV[3] .. queue, 'RIGHT', 'LEFT') do requeued = requeued + 1 end
end
local ids = redis.call('HGET', KEYS[5], ARGV[1])
ids = ids and cjson.decode(ids) or {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', ARGV[4] .. id)
  if v then
    local queue, payload = unstate(v)
    if string.byte(payload, 1) == 34 then
      -- a malformed item, stored as a string: it would have failed; record that, keeping it as stored
      failure(payload, 'MalformedPayloadError', 'payload is not a JSON object its worker could run (the worker died before recording this)', id, queue)
    elseif ARGV[2] == 'fail' then
      local ok, decoded = pcall(cjson.decode, payload)
      local class = ok and type(decoded) == 'table' and type(decoded.class) == 'string' and decoded.class or '?'
      failure(payload, 'Resque::PruneDeadWorkerDirtyExit', 'Worker ' .. id .. ' did not gracefully exit while processing ' .. class, id, queue)
    else
      redis.call('LPUSH', ARGV[3] .. queue, payload)
      requeued = requeued + 1
    end
  end
  redis.call('SREM', KEYS[3], id)
  redis.call('DEL', ARGV[4] .. id, ARGV[4] .. id .. ':started', ARGV[5] .. id, ARGV[6] .. id)
  redis.call('HDEL', KEYS[4], id)
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
return { requeued, failed }
