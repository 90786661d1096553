--[[
  One round trip of a fetch lane, atomically: apply the slot operations that happened since the last call (in
  their order), hand back landing lists, then fetch jobs for free slots.
  A job is always in its queue, in a landing list or in worker:<id> (Resque's own worker state, which doubles
  as our in-flight record), never only in the worker's memory (issue #4). Each call carries the lane's call
  number: a call that already ran (its reply was lost, so the lane sends it again) is not applied twice; it
  returns the jobs it had fetched.
  scripts.ts (laneCycle) alone knows this layout.

  KEYS[1] this process's lanes hash (field = lane, value = number of its last applied call)
  KEYS[2] stat:processed     KEYS[3] stat:failed     KEYS[4] failed     KEYS[5] pause-all-workers
  ARGV[1] prefix of worker:<id>        ARGV[2] prefix of stat:processed:<id>   ARGV[3] prefix of stat:failed:<id>
  ARGV[4] prefix of queue:<q>          ARGV[5] prefix of this process's landing lists
  ARGV[6] run_at for new jobs          ARGV[7] failed_at for failures
  ARGV[8] lane   ARGV[9] call number   ARGV[10] O = slot operations   ARGV[11] F = slots to fill
  ARGV[12] Q = queues                  ARGV[13] S = landing lists to hand back
  then O groups of 6, in the order they happened:
    "ack", worker id, outcome ("ok" | "fail" | "bad": an item that is not a runnable JSON object),
      exception, error, backtrace (each already JSON-encoded; "" for "ok")
    "claim", worker id, queue, "", "", "": the job a blocker moved to landing:<q> is running in that slot;
      the list holds exactly that job (blocker.ts keeps it so), which becomes the slot's state
  then F worker ids, then Q queue names in the order this fetch visits them, then S queues whose landing
  list may hold jobs nobody runs: they go back to the front of their queue
  Returns { paused (0|1), n, then n groups: slot number (1..F), queue, flag ("" | "u": not UTF-8), raw payload }
]]
local rcall, sbyte = redis.call, string.byte -- locals: global lookups cost on every job
local lanesKey, processedKey, failedCountKey, failedKey, pauseKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local workerPrefix, processedPrefix, failedPrefix, queuePrefix, landingPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local runAt, failedAt, lane, call = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local O, F, Q, S = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local OP = 6
local opAt = 14
local fetchAt = opAt + OP * O
local sweepAt = fetchAt + F + Q
local out = { 0, 0 }
local function many(cmd, list) -- one command for many arguments, below Lua's unpack limit
  for from = 1, #list, 1000 do rcall(cmd, unpack(list, from, math.min(#list, from + 999))) end
end
local function mget(keys)
  local vals = {}
  for from = 1, #keys, 1000 do
    for _, v in ipairs(rcall('MGET', unpack(keys, from, math.min(#keys, from + 999)))) do vals[#vals + 1] = v end
  end
  return vals
end
local function reply(slot, queue, flag, raw)
  out[#out + 1] = slot
  out[#out + 1] = queue
  out[#out + 1] = flag
  out[#out + 1] = raw
  out[2] = out[2] + 1
end
-- A state written earlier (replay, or a free slot found holding one): a payload stored as a JSON string was
-- not embeddable; \u0080-\u00ff escapes in it mean its bytes were not UTF-8.
local function emit(slot, v)
  local queue, payload = unstate(v)
  local flag = ''
  if sbyte(payload, 1) == 34 then
    if string.find(payload, '\\u00[89a-f]') then flag = 'u' end
    payload = cjson.decode(payload)
  end
  reply(slot, queue, flag, payload)
end

if rcall('HGET', lanesKey, lane) == call then
  local keys = {}
  for k = 1, F do keys[k] = workerPrefix .. ARGV[fetchAt + k - 1] end
  for k, v in ipairs(mget(keys)) do if v then emit(k, v) end end
  return out
end
rcall('HSET', lanesKey, lane, call)

local heads = {}
local function state(queue, raw)
  heads[queue] = heads[queue] or ('{"queue":' .. jstr(queue) .. ',"run_at":"' .. runAt .. '","payload":')
  local flag = utf8ok(raw) and '' or 'u'
  local embed = flag == '' and sbyte(raw, 1) == 123 and sbyte(raw, -1) == 125
  return heads[queue] .. payloadJson(raw, not embed) .. '}', flag
end

-- The states this call touches: read once, changed in `view` as operations apply, written once at the end.
local ids, keys, view, before = {}, {}, {}, {}
local function touch(id)
  if before[id] == nil then
    before[id] = false
    ids[#ids + 1] = id
    keys[#keys + 1] = workerPrefix .. id
  end
end
for k = 1, O do touch(ARGV[opAt + OP * (k - 1) + 1]) end
for k = 1, F do touch(ARGV[fetchAt + k - 1]) end
for j, v in ipairs(mget(keys)) do
  view[ids[j]] = v or false
  before[ids[j]] = v or false
end
local function finish()
  local set, del = {}, {}
  for id, v in pairs(view) do
    if v and v ~= before[id] then set[#set + 1] = workerPrefix .. id set[#set + 1] = v
    elseif not v and before[id] then del[#del + 1] = workerPrefix .. id end
  end
  many('MSET', set)
  many('DEL', del)
  return out
end

-- An ack whose state is missing means someone else already dealt with the job (Resque's prune, our reaper).
local processed, failed = 0, 0
for k = 1, O do
  local at = opAt + OP * (k - 1)
  local kind, id = ARGV[at], ARGV[at + 1]
  if kind == 'claim' then
    local queue = ARGV[at + 2]
    local raw = rcall('LPOP', landingPrefix .. queue)
    if raw then view[id] = (state(queue, raw)) end
  elseif view[id] then
    local outcome = ARGV[at + 2]
    rcall('INCRBY', processedPrefix .. id, '1') -- a string: Lua formats numbers with printf
    processed = processed + 1
    if outcome ~= 'ok' then
      local queue, payload = unstate(view[id])
      if outcome == 'bad' and sbyte(payload, 1) ~= 34 then payload = payloadJson(payload, true) end
      rcall('RPUSH', failedKey, failureEntry(failedAt, payload, ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], id, queue))
      rcall('INCRBY', failedPrefix .. id, '1')
      failed = failed + 1
    end
    view[id] = false
  end
end
if processed > 0 then rcall('INCRBY', processedKey, processed) end
if failed > 0 then rcall('INCRBY', failedCountKey, failed) end
for k = 1, S do
  local queue = ARGV[sweepAt + k - 1]
  while rcall('LMOVE', landingPrefix .. queue, queuePrefix .. queue, 'RIGHT', 'LEFT') do end
end

if F == 0 then return finish() end
local pause = rcall('GET', pauseKey)
if pause and string.lower(string.match(pause, '^%s*(.-)%s*$')) == 'true' then out[1] = 1 return finish() end

-- A free slot that still holds a state (never expected; checked so that nothing is ever overwritten) gets it back.
local need = 0
for k = 1, F do if not view[ARGV[fetchAt + k - 1]] then need = need + 1 end end
local popped, pq = {}, {}
for qi = 1, Q do
  if need == 0 then break end
  local queue = ARGV[fetchAt + F + qi - 1]
  local got = rcall('LPOP', queuePrefix .. queue, need)
  if got then
    for _, raw in ipairs(got) do popped[#popped + 1] = raw pq[#pq + 1] = queue end
    need = need - #got
  end
end
local p = 0
for slot = 1, F do
  local id = ARGV[fetchAt + slot - 1]
  if view[id] then
    emit(slot, view[id])
  elseif p < #popped then
    p = p + 1
    local v, flag = state(pq[p], popped[p])
    view[id] = v
    reply(slot, pq[p], flag, popped[p])
  end
end
return finish()
