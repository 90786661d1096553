--[[
  One round trip of a fetch lane: record landed jobs already running, acknowledge finished jobs, hand back
  landing lists, then fetch jobs for free slots, atomically.
  A job is always in its queue, in a landing list or in worker:<id> (Resque's own worker state, which doubles
  as our in-flight record), never only in the worker's memory (issue #4). Each call carries the lane's call
  number: a call that already ran (its reply was lost, so the lane sends it again) is not applied twice; it
  returns the jobs it had fetched.

  KEYS[1] this process's lanes hash (field = lane, value = number of its last applied call)
  KEYS[2] stat:processed     KEYS[3] stat:failed     KEYS[4] failed     KEYS[5] pause-all-workers
  ARGV[1] prefix of worker:<id>        ARGV[2] prefix of stat:processed:<id>   ARGV[3] prefix of stat:failed:<id>
  ARGV[4] prefix of queue:<q>          ARGV[5] prefix of this process's landing lists
  ARGV[6] run_at for new jobs          ARGV[7] failed_at for failures
  ARGV[8] lane   ARGV[9] call number   ARGV[10] A = acks   ARGV[11] F = slots to fill   ARGV[12] Q = queues
  ARGV[13] C = claims   ARGV[14] S = landing lists to hand back
  then A groups: worker id, outcome ("ok" | "fail" | "bad": payload kept as a string), failure tail
  then F worker ids, then Q queue names in the order this fetch visits them
  then C groups: worker id, queue: the job a blocker just moved to landing:<q>, already running in that slot;
    its landing list holds exactly that job, which becomes the slot's state (blocker.ts keeps it so)
  then S queues whose landing list may hold jobs nobody runs: they go back to the front of their queue
  Returns { paused (0|1), n, then n groups: slot number (1..F), queue, flag ("" | "u": not UTF-8), raw payload }
]]
local A, F, Q, C, S = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local ackAt = 15
local fetchAt = ackAt + 3 * A
local claimAt = fetchAt + F + Q
local sweepAt = claimAt + 2 * C
local out = { 0, 0 }
local function many(cmd, key, list) -- one command for many arguments, below Lua's unpack limit
  for from = 1, #list, 1000 do
    local to = math.min(#list, from + 999)
    if key then redis.call(cmd, key, unpack(list, from, to)) else redis.call(cmd, unpack(list, from, to)) end
  end
end
local function mget(keys)
  local vals = {}
  for from = 1, #keys, 1000 do
    for _, v in ipairs(redis.call('MGET', unpack(keys, from, math.min(#keys, from + 999)))) do vals[#vals + 1] = v end
  end
  return vals
end
-- A state written earlier (replay, or a slot found holding one): a payload stored as a JSON string was not
-- embeddable; \u0080-\u00ff escapes in it mean its bytes were not UTF-8.
local function emit(slot, v)
  local queue, payload = unstate(v)
  local flag = ''
  if string.byte(payload, 1) == 34 then
    if string.find(payload, '\\u00[89a-f]') then flag = 'u' end
    payload = cjson.decode(payload)
  end
  out[#out + 1] = slot
  out[#out + 1] = queue
  out[#out + 1] = flag
  out[#out + 1] = payload
  out[2] = out[2] + 1
end

if redis.call('HGET', KEYS[1], ARGV[8]) == ARGV[9] then
  local keys = {}
  for k = 1, F do keys[k] = ARGV[1] .. ARGV[fetchAt + k - 1] end
  for k, v in ipairs(mget(keys)) do if v then emit(k, v) end end
  return out
end
redis.call('HSET', KEYS[1], ARGV[8], ARGV[9])

local heads = {}
local function state(queue, raw)
  heads[queue] = heads[queue] or ('{"queue":' .. jstr(queue) .. ',"run_at":"' .. ARGV[6] .. '","payload":')
  local flag = utf8ok(raw) and '' or 'u'
  local embed = flag == '' and string.byte(raw, 1) == 123 and string.byte(raw, -1) == 125
  return heads[queue] .. payloadJson(raw, not embed) .. '}', flag
end

-- Claims first: an ack in this same call may be for the claimed job (a job that finished at once).
for k = 1, C do
  local at = claimAt + 2 * (k - 1)
  local raw = redis.call('LPOP', ARGV[5] .. ARGV[at + 1])
  if raw then redis.call('SET', ARGV[1] .. ARGV[at], (state(ARGV[at + 1], raw))) end
end

-- Acks. A missing state means someone else already dealt with the job (Resque's prune, our reaper): skip it.
local acked, processed, failed = {}, 0, 0
if A > 0 then
  local keys = {}
  for k = 1, A do keys[k] = ARGV[1] .. ARGV[ackAt + 3 * (k - 1)] end
  local vals = mget(keys)
  for k = 1, A do
    local at = ackAt + 3 * (k - 1)
    local id, outcome, v = ARGV[at], ARGV[at + 1], vals[k]
    if v then
      acked[#acked + 1] = id
      redis.call('INCRBY', ARGV[2] .. id, '1') -- a string: Lua formats numbers with printf
      processed = processed + 1
      if outcome ~= 'ok' then
        local _, payload = unstate(v)
        if outcome == 'bad' and string.byte(payload, 1) ~= 34 then payload = payloadJson(payload, true) end
        redis.call('RPUSH', KEYS[4], '{"failed_at":"' .. ARGV[7] .. '","payload":' .. payload .. ARGV[at + 2])
        redis.call('INCRBY', ARGV[3] .. id, '1')
        failed = failed + 1
      end
    end
  end
end
if processed > 0 then redis.call('INCRBY', KEYS[2], processed) end
if failed > 0 then redis.call('INCRBY', KEYS[3], failed) end
for k = 1, S do
  local queue = ARGV[sweepAt + k - 1]
  while redis.call('LMOVE', ARGV[5] .. queue, ARGV[4] .. queue, 'RIGHT', 'LEFT') do end
end

-- States of acknowledged slots that get no new job are deleted at the end; refilled ones are overwritten.
local refilled = {}
local function finish()
  local del = {}
  for _, id in ipairs(acked) do if not refilled[id] then del[#del + 1] = ARGV[1] .. id end end
  many('DEL', nil, del)
  return out
end
if F == 0 then return finish() end
local pause = redis.call('GET', KEYS[5])
if pause and string.lower(string.match(pause, '^%s*(.-)%s*$')) == 'true' then out[1] = 1 return finish() end

-- A free slot that still holds a state (never expected; checked so that nothing is ever overwritten) gets it back.
local justAcked, ids, check, checkAt = {}, {}, {}, {}
for _, id in ipairs(acked) do justAcked[id] = true end
for k = 1, F do
  ids[k] = ARGV[fetchAt + k - 1]
  if not justAcked[ids[k]] then check[#check + 1] = ARGV[1] .. ids[k] checkAt[#check] = k end
end
local held = {}
for j, v in ipairs(mget(check)) do if v then held[checkAt[j]] = v end end
local need = F
for _ in pairs(held) do need = need - 1 end

local popped, pq = {}, {}
for qi = 1, Q do
  if need == 0 then break end
  local queue = ARGV[fetchAt + F + qi - 1]
  local got = redis.call('LPOP', ARGV[4] .. queue, need)
  if got then
    for _, raw in ipairs(got) do popped[#popped + 1] = raw pq[#pq + 1] = queue end
    need = need - #got
  end
end

local mset, p = {}, 0
for slot = 1, F do
  local id = ids[slot]
  if held[slot] then
    emit(slot, held[slot])
  elseif p < #popped then
    p = p + 1
    local raw, queue = popped[p], pq[p]
    local v, flag = state(queue, raw)
    mset[#mset + 1] = ARGV[1] .. id
    mset[#mset + 1] = v
    refilled[id] = true
    out[#out + 1] = slot
    out[#out + 1] = queue
    out[#out + 1] = flag
    out[#out + 1] = raw
    out[2] = out[2] + 1
  end
end
many('MSET', nil, mset)
return finish()
