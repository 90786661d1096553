--[[
  Hand back everything a worker process holds and unregister it, atomically. Used for our own shutdown (after
  the deadline), for a predecessor with our pid found at start-up, and for dead processes found by the reaper.
  Running it twice is harmless: the second run finds nothing. scripts.ts (releaseProcess) alone knows this layout.

  KEYS[1] the process's lanes hash   KEYS[2] its landings set   KEYS[3] workers   KEYS[4] workers:heartbeat
  KEYS[5] bunworker:processes        KEYS[6] bunworker:beats
  ARGV[1] process ("host:pid")       ARGV[2] "requeue" | "fail" (running jobs become Resque's prune failures)
  ARGV[3] prefix of queue:<q>        ARGV[4] prefix of worker:<id>   ARGV[5] suffix of worker:<id>:started
  ARGV[6] prefix of stat:processed:<id>   ARGV[7] prefix of stat:failed:<id>   ARGV[8] prefix of its landing lists
  ARGV[9] failed list                ARGV[10] failed_at
  Returns { requeued, failed }
]]
local lanesKey, landingsKey, workersKey, heartbeatsKey, processesKey, beatsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local proc, mode, queuePrefix, workerPrefix, startedSuffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local processedPrefix, failedPrefix, landingPrefix, failedKey, failedAt = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local requeued, failed = 0, 0
local function fail(payload, exception, error, id, queue)
  redis.call('RPUSH', failedKey, failureEntry(failedAt, payload, jstr(exception), jstr(error), '[]', id, queue))
  failed = failed + 1
end
-- Landed jobs were taken after the running ones, so they go back first and end up behind them.
for _, queue in ipairs(redis.call('SMEMBERS', landingsKey)) do
  while redis.call('LMOVE', landingPrefix .. queue, queuePrefix .. queue, 'RIGHT', 'LEFT') do requeued = requeued + 1 end
end
local ids = redis.call('HGET', processesKey, proc)
ids = ids and cjson.decode(ids) or {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', workerPrefix .. id)
  if v then
    local queue, payload = unstate(v)
    if string.byte(payload, 1) == 34 then
      -- a malformed item, stored as a string: it would have failed; record that, keeping it as stored
      fail(payload, 'MalformedPayloadError', 'payload is not a JSON object its worker could run (the worker died before recording this)', id, queue)
    elseif mode == 'fail' then
      local ok, decoded = pcall(cjson.decode, payload)
      local class = ok and type(decoded) == 'table' and type(decoded.class) == 'string' and decoded.class or '?'
      fail(payload, 'Resque::PruneDeadWorkerDirtyExit', 'Worker ' .. id .. ' did not gracefully exit while processing ' .. class, id, queue)
    else
      redis.call('LPUSH', queuePrefix .. queue, payload)
      requeued = requeued + 1
    end
  end
  redis.call('SREM', workersKey, id)
  redis.call('DEL', workerPrefix .. id, workerPrefix .. id .. startedSuffix, processedPrefix .. id, failedPrefix .. id)
  redis.call('HDEL', heartbeatsKey, id)
end
redis.call('DEL', lanesKey, landingsKey)
redis.call('HDEL', processesKey, proc)
redis.call('HDEL', beatsKey, proc)
return { requeued, failed }
