--[[
  One round trip of a fetch lane: acknowledge finished jobs, then fetch jobs for free slots.
  Atomic, so a job is always either in its queue, in a landing list, or in this process's in-flight hash
  (issue #4: never a pop followed by a separate write). Idempotent under retry: an ack whose token no longer
  matches is skipped, and a slot that already holds a record gets that record back (the reply of an earlier
  attempt was lost), so a timed-out call can simply be sent again.

  KEYS[1] in-flight hash of this process (field = worker id, value = "<token> <qlen> <queue><raw payload>")
  KEYS[2] stat:processed     KEYS[3] stat:failed     KEYS[4] failed     KEYS[5] pause-all-workers
  ARGV[1] prefix of worker:<id>            ARGV[2] prefix of stat:processed:<id>   ARGV[3] prefix of stat:failed:<id>
  ARGV[4] prefix of queue:<q>              ARGV[5] prefix of landing lists (landing:<proc>:)
  ARGV[6] run_at for new jobs              ARGV[7] failed_at for failures
  ARGV[8] A = number of acks               ARGV[9] F = number of slots to fill    ARGV[10] Q = number of queues
  then A groups: worker id, token, outcome ("ok" | "fail" = payload kept as JSON | "bad" = payload kept as a string), failure tail
  then F groups: worker id, new token
  then Q queue names, in the order this fetch visits them
  Returns { paused (0|1), n, then n groups: slot number (1..F), token, queue, flag ("" ok | "u" not UTF-8), raw }
]]
local A, F, Q = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local processed, failed = 0, 0
local i = 11
-- Acks: one HMGET for every record; HDEL and DEL are batched and skipped for slots refilled below (HSET and
-- SET overwrite them), so a busy slot costs one INCRBY here instead of HGET + HDEL + DEL + INCRBY.
local acked, unset = {}, {}
-- One command for many arguments, in chunks that stay below Lua's unpack limit (8000).
local function many(cmd, key, list)
  for from = 1, #list, 1000 do
    local to = math.min(#list, from + 999)
    if key then redis.call(cmd, key, unpack(list, from, to)) else redis.call(cmd, unpack(list, from, to)) end
  end
end
if A > 0 then
  local ids = {}
  for k = 1, A do ids[k] = ARGV[i + 4 * (k - 1)] end
  local vals = {}
  for from = 1, A, 1000 do
    for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(ids, from, math.min(A, from + 999)))) do vals[#vals + 1] = v end
  end
  for k = 1, A do
    local id, token, outcome, tail = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    i = i + 4
    local v = vals[k]
    -- The token leads the record: comparing that prefix avoids copying the payload out of every ack.
    if v and string.sub(v, 1, #token + 1) == token .. ' ' then
      do
        acked[id] = true
        unset[#unset + 1] = id
        redis.call('INCRBY', ARGV[2] .. id, 1)
        processed = processed + 1
        if outcome ~= 'ok' then
          local _, _, raw = record(v)
          redis.call('RPUSH', KEYS[4], '{"failed_at":"' .. ARGV[7] .. '","payload":' .. payloadJson(raw, outcome == 'bad') .. tail)
          redis.call('INCRBY', ARGV[3] .. id, 1)
          failed = failed + 1
        end
      end
    end
  end
end
if processed > 0 then redis.call('INCRBY', KEYS[2], processed) end
if failed > 0 then redis.call('INCRBY', KEYS[3], failed) end

-- Records of acknowledged slots that get no new job are removed at the end, in two calls.
local function finish(refilled, wrote)
  local hdel, del = {}, {}
  for _, id in ipairs(unset) do
    if not refilled[id] then hdel[#hdel + 1] = id end
    if not wrote[id] then del[#del + 1] = ARGV[1] .. id end
  end
  many('HDEL', KEYS[1], hdel)
  many('DEL', nil, del)
end

local out = { 0, 0 }
if F == 0 then finish({}, {}) return out end
local pause = redis.call('GET', KEYS[5])
if pause and string.lower(string.match(pause, '^%s*(.-)%s*$')) == 'true' then finish({}, {}) out[1] = 1 return out end

-- Fetch: one HMGET finds records left by a lost reply; the rest pop with LPOP <count>, landing list first.
local ids, tokens = {}, {}
for k = 1, F do ids[k], tokens[k] = ARGV[i], ARGV[i + 1] i = i + 2 end
local queues = {}
for q = 1, Q do queues[q] = ARGV[i + q - 1] end
local existing = {}
for from = 1, F, 1000 do
  for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(ids, from, math.min(F, from + 999)))) do existing[#existing + 1] = v end
end
local need = 0
for k = 1, F do
  if not existing[k] or acked[ids[k]] then existing[k] = false need = need + 1 end
end
local popped, pq = {}, {}
for qi = 1, Q do
  if need == 0 then break end
  for _, key in ipairs({ ARGV[5] .. queues[qi], ARGV[4] .. queues[qi] }) do
    if need == 0 then break end
    local got = redis.call('LPOP', key, need)
    if got then
      for _, raw in ipairs(got) do popped[#popped + 1] = raw pq[#pq + 1] = queues[qi] end
      need = need - #got
    end
  end
end
-- Per queue, once per call: the record's "<qlen> <queue>" and the worker state up to the payload.
local recordHead, stateHead = {}, {}
local function heads(queue)
  if not recordHead[queue] then
    recordHead[queue] = ' ' .. #queue .. ' ' .. queue
    stateHead[queue] = '{"queue":' .. jstr(queue) .. ',"run_at":"' .. ARGV[6] .. '","payload":'
  end
end
local n, p, hset, mset, refilled, wrote = 0, 0, {}, {}, {}, {}
for slot = 1, F do
  local id, token, queue, raw = ids[slot], tokens[slot], nil, nil
  if existing[slot] then
    token, queue, raw = record(existing[slot])
  elseif p < #popped then
    p = p + 1
    raw, queue = popped[p], pq[p]
    heads(queue)
    hset[#hset + 1] = id
    hset[#hset + 1] = token .. recordHead[queue] .. raw
    refilled[id] = true
  end
  if raw then
    local flag = ''
    if not utf8ok(raw) then flag = 'u' end
    if flag == '' and string.byte(raw, 1) == 123 and string.byte(raw, -1) == 125 then
      heads(queue)
      mset[#mset + 1] = ARGV[1] .. id
      mset[#mset + 1] = stateHead[queue] .. raw .. '}'
      wrote[id] = true
    end
    n = n + 1
    out[#out + 1] = slot
    out[#out + 1] = token
    out[#out + 1] = queue
    out[#out + 1] = flag
    out[#out + 1] = raw
  end
end
many('HSET', KEYS[1], hset)
many('MSET', nil, mset)
finish(refilled, wrote)
out[2] = n
return out
