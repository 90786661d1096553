--[[
  Hand back everything a worker process holds and unregister it, atomically. Used for our own shutdown (after
  the deadline) and for dead processes (recovery.ts). Running it twice is harmless: the second run finds
  nothing. All or nothing (issue #9): every read and check comes first; a job whose queue key has the wrong
  type cannot go back there and becomes a failure entry instead; if the failed list itself is unusable the
  script changes nothing and says so ("BADKEY <key> <why>").
  scripts.ts (releaseProcess) alone knows this layout.

  KEYS[1] the process's lanes hash   KEYS[2] workers   KEYS[3] workers:heartbeat   KEYS[4] bunworker:processes
  KEYS[5] bunworker:beats
  ARGV[1] process ("host:pid:instance")   ARGV[2] "requeue" | "fail" (running jobs become Resque's prune failures)
  ARGV[3] prefix of queue:<q>        ARGV[4] prefix of worker:<id>   ARGV[5] suffix of worker:<id>:started
  ARGV[6] prefix of stat:processed:<id>   ARGV[7] prefix of stat:failed:<id>   ARGV[8] failed list   ARGV[9] failed_at
  ARGV[10] prefix of bunworker-crashes:<sha1 of payload>   ARGV[11] crash limit: 0 for our own shutdown (nobody
  died); N for a dead process   ARGV[12] how long a death is remembered (s)
  A dead process's job may be the one that killed it (a native crash, process.reallyExit, SIGKILL from job code:
  nothing the job guard can intercept). Issue #14: each hand-back of a dead process's job counts a death against
  its payload's bytes; the Nth within the window fails it as Bunworker::CrashedWorker instead of handing it back
  into another crash. A neighbour cut off by the same deaths shares the count (which job crashed cannot be told).
  Returns { requeued, failed, unregistered ids }
]]
local lanesKey, workersKey, heartbeatsKey, processesKey, beatsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local proc, mode, queuePrefix, workerPrefix, startedSuffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local processedPrefix, failedPrefix, failedKey, failedAt = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local crashPrefix, crashLimit, crashWindow = ARGV[10], tonumber(ARGV[11]) or 0, ARGV[12]
local function typeOf(key) return redis.call('TYPE', key).ok end
for key, want in pairs({ [workersKey] = 'set', [heartbeatsKey] = 'hash', [processesKey] = 'hash', [beatsKey] = 'hash' }) do
  local t = typeOf(key)
  if t ~= want and t ~= 'none' then return bad(key, 'is a ' .. t .. ', not a ' .. want) end
end

local ids = redis.call('HGET', processesKey, proc)
local okIds, decoded = pcall(cjson.decode, ids or '')
ids = ids and okIds and type(decoded) == 'table' and decoded or nil
if not ids then
  -- The entry was deleted or garbled from outside (issue #14): our ids are "<host>:<pid>:<queues>:<slot>.<instance>"
  -- for proc "<host>:<pid>:<instance>", so the registrations still name them.
  local head, instance = string.match(proc, '^(.*:)([^:]+)$')
  local seen = {}
  ids = {}
  for _, id in ipairs(redis.call('SMEMBERS', workersKey)) do seen[id] = true end
  for _, id in ipairs(redis.call('HKEYS', heartbeatsKey)) do seen[id] = true end
  for id in pairs(seen) do
    if head and string.sub(id, 1, #head) == head and string.sub(id, -#instance - 1) == '.' .. instance then ids[#ids + 1] = id end
  end
  table.sort(ids)
end
-- Decide first what becomes of each running job: { queue, payload } to requeue, or a failure entry.
local requeue, failures, queueOk, crashed = {}, {}, {}, {}
local function canRequeue(queue)
  if queueOk[queue] == nil then
    local t = typeOf(queuePrefix .. queue)
    queueOk[queue] = (t == 'list' or t == 'none') and true or t
  end
  return queueOk[queue] == true
end
for _, id in ipairs(ids) do
  local v = redis.pcall('GET', workerPrefix .. id)
  if type(v) == 'string' then
    local queue, payload = unstate(v)
    if not queue then
      failures[#failures + 1] = failureEntry(failedAt, malformed(jstr(v)), '"MalformedPayloadError"', jstr('the worker state of ' .. id .. ' was unreadable'), '[]', id, '')
    elseif string.byte(payload, 1) == 34 then
      -- a malformed item, stored as a string: it would have failed; record that, keeping it as stored
      failures[#failures + 1] = failureEntry(failedAt, malformed(payload), '"MalformedPayloadError"', jstr('payload is not a JSON object its worker could run (the worker died before recording this)'), '[]', id, queue)
    elseif mode == 'fail' then
      local ok, job = pcall(cjson.decode, payload)
      local class = ok and type(job) == 'table' and type(job.class) == 'string' and job.class or '?'
      failures[#failures + 1] = failureEntry(failedAt, payload, '"Resque::PruneDeadWorkerDirtyExit"', jstr('Worker ' .. id .. ' did not gracefully exit while processing ' .. class), '[]', id, queue)
    elseif not canRequeue(queue) then
      failures[#failures + 1] = failureEntry(failedAt, payload, '"Bunworker::RequeueFailed"', jstr('could not hand the job back: ' .. queuePrefix .. queue .. ' is a ' .. queueOk[queue] .. ', not a list'), '[]', id, queue)
    elseif crashLimit > 0 then
      -- A counter of another type (planted) counts as none: SET replaces it whatever it is, so nothing can fail.
      local key = crashPrefix .. redis.sha1hex(payload)
      local seen = redis.pcall('GET', key)
      local deaths = (type(seen) == 'string' and tonumber(seen) or 0) + 1
      if deaths >= crashLimit then
        local ok, job = pcall(cjson.decode, payload)
        local class = ok and type(job) == 'table' and type(job.class) == 'string' and job.class or '?'
        failures[#failures + 1] = failureEntry(failedAt, payload, '"Bunworker::CrashedWorker"', jstr('the worker process died ' .. deaths .. ' times while running this ' .. class .. ' job (last: ' .. id .. '); not handed back again'), '[]', id, queue)
        crashed[#crashed + 1] = key
      else
        requeue[#requeue + 1] = { queue, payload, key, deaths }
      end
    else
      requeue[#requeue + 1] = { queue, payload }
    end
  end
end
if #failures > 0 then
  local t = typeOf(failedKey)
  if t ~= 'list' and t ~= 'none' then return bad(failedKey, 'is a ' .. t .. ', not a list') end
end

-- Checked: from here on nothing can fail.
for _, job in ipairs(requeue) do
  redis.call('LPUSH', queuePrefix .. job[1], job[2])
  if job[3] then redis.call('SET', job[3], job[4], 'EX', crashWindow) end
end
for _, key in ipairs(crashed) do redis.call('DEL', key) end
for from = 1, #failures, 1000 do redis.call('RPUSH', failedKey, unpack(failures, from, math.min(#failures, from + 999))) end
for _, id in ipairs(ids) do
  redis.call('SREM', workersKey, id)
  redis.call('DEL', workerPrefix .. id, workerPrefix .. id .. startedSuffix, processedPrefix .. id, failedPrefix .. id)
  redis.call('HDEL', heartbeatsKey, id)
end
redis.call('DEL', lanesKey)
redis.call('HDEL', processesKey, proc)
redis.call('HDEL', beatsKey, proc)
return { #requeue, #failures, #ids }
