--[[
  One round trip of a fetch lane, atomically: apply the acks since the last call (in their order), then fetch
  jobs for free slots. A job is always in its queue or in worker:<id> (Resque's own worker state, which doubles
  as our in-flight record), never only in the worker's memory. Each call carries the lane's call number: a
  call that already ran (its reply was lost, so the lane sends it again) is not applied twice; it returns the
  jobs it had fetched, whose states this lane alone writes.
  Every job put into a slot gets a token (kept in the lanes hash's field "t<slot number>", written in the same
  step as its state), and an ack names the token of the job it acknowledges: an ack whose
  token is not the slot's current one (after a failover to a replica that missed some writes, the slot may
  hold another job) clears nothing and counts nothing; that other job stays in the slot's state, and the
  lane's next fetch runs it. (One field for all slots: a field per slot made every call ~7 µs/job slower.)
  All or nothing (issue #9): every key it writes is checked before the first write; a call that cannot apply
  returns an error naming the key ("BADKEY <key> <why>") and changes nothing. A queue of the wrong type is
  skipped (LPOP fails before it changes anything) and named in the reply.
  scripts.ts (laneCycle) alone knows this layout.

  It fetches nothing for a process that is not registered (reaped while it was frozen): what it took would
  have no owner anyone could recover; its heartbeat registers it again within one interval.

  KEYS[1] this process's lanes hash (field = lane: number of its last applied call; field "t<slot number>":
          the token of the job in that slot)
  KEYS[2] stat:processed     KEYS[3] stat:failed     KEYS[4] failed     KEYS[5] pause-all-workers
  KEYS[6] bunworker:beats (field = process: it is registered)
  ARGV[1] prefix of worker:<id>        ARGV[2] prefix of stat:processed:<id>   ARGV[3] prefix of stat:failed:<id>
  ARGV[4] prefix of queue:<q>          ARGV[5] run_at for new jobs             ARGV[6] failed_at for failures
  ARGV[7] lane   ARGV[8] call number   ARGV[9] A = acks   ARGV[10] F = slots to fill   ARGV[11] Q = queues
  ARGV[12] process ("host:pid:instance")   ARGV[13] N = acks that are not "ok"
  then A groups of 3, in the order they happened: worker id, slot number, token
  then N groups of 5, one per ack that is not "ok" (in ack order): its number (1..A), outcome ("fail" | "bad":
    an item that is not a runnable JSON object | "done" | "retry" | "giveup"), exception, error, backtrace (each
    already JSON-encoded; "" for "done"). An "ok" ack, the drain's common case, is only its 3 arguments (issue
    #15: each argument costs Redis ~0.25 µs to parse and hand to Lua).
  then F groups of 2: worker id, slot number; then Q queue names in the order this fetch visits them. The jobs
  this call puts into slots get the call number as their token.
  then, for each ack that is not "ok" (in order): its queue and raw item, used only when its state is gone.
  Acks "done"/"retry"/"giveup" (retry policies, #17): "ok"/"fail"/"fail" + resque-retry's writes (include-retry.lua).
  Returns { paused (0 | 1: pause-all-workers | 2: not registered), n, tampered, g, then n jobs: [its queue, only
    when it differs from the previous job's (a string; the first job always has it)], slot number (1..F, an
    integer; negative: the payload is not UTF-8), raw payload; then g worker ids whose state was gone, then the
    names of queues skipped for their type } (2 elements per job of one queue, issue #15)
  tampered: acks applied although the slot's token was missing or not a token (the lanes hash or a slot's token
  field deleted or overwritten, issue #14): tokens are written in the same step as states, so a slot that holds
  a state and no token was tampered with; the ack applies (running its job again would be worse).
  gone: an ack whose slot still had the ack's token but no state: the state was deleted from outside while the
  job ran (Resque.remove_worker, DEL). The job finished, so it counts (a reaper's release deletes the tokens
  with the states, so a reaped job never counts here).
]]
local rcall, sbyte = redis.call, string.byte -- locals: global lookups cost on every job
local lanesKey, processedKey, failedCountKey, failedKey, pauseKey, beatsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local workerPrefix, processedPrefix, failedPrefix, queuePrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local runAt, failedAt, lane, call = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local A, F, Q, proc, N = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])
local ACK, FILL = 3, 2
local ackAt = 14
-- outcome[k]: ack k's outcome when it is not "ok"; detail[k]: where its exception, error, backtrace are.
local outcome, detail = {}, {}
local otherAt = ackAt + ACK * A
for g = otherAt, otherAt + 5 * (N - 1), 5 do
  local k = tonumber(ARGV[g])
  outcome[k], detail[k] = ARGV[g + 1], g + 2
end
local fillAt = otherAt + 5 * N
local queueAt = fillAt + FILL * F
local function fillId(k) return ARGV[fillAt + FILL * (k - 1)] end
local out, nout, lastQueue = { 0, 0, 0, 0 }, 4, nil
local gone, goneIds = {}, {}
local function reply(slot, queue, flag, raw)
  if queue ~= lastQueue then
    nout = nout + 1
    out[nout] = queue
    lastQueue = queue
  end
  if flag ~= '' then slot = -slot end
  out[nout + 1], out[nout + 2] = slot, raw
  nout = nout + 2
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

-- One read of the lanes hash: this lane's last call number, and the token of the job in each acked slot.
local fields = { lane }
for k = 1, A do fields[k + 1] = tokenField(ARGV[ackAt + ACK * (k - 1) + 1]) end
local known = redis.pcall('HMGET', lanesKey, unpack(fields, 1, math.min(#fields, 1000)))
if known.err then return bad(lanesKey, 'is not a hash') end
if #fields > 1000 then hmgetFrom(lanesKey, fields, known, 1001) end
local last = known[1]
if last == call then
  -- Rewritten unchanged, so that a WAIT on the connection that resent the call covers the first one (replicas.ts).
  rcall('HSET', lanesKey, lane, call)
  local keys = {}
  for k = 1, F do keys[k] = workerPrefix .. fillId(k) end
  local vals, err = strings(keys)
  if err then return bad(err, 'is not a string') end
  for k = 1, F do if vals[k] and stateQueue(vals[k]) then emit(k, vals[k]) end end
  return out
end

-- Read every string this call may write (states and counters) with one MGET, and check them all. The keys of
-- each ack and fill are built once (Lua string building is most of this script's cost per job).
-- Retry acks (R) are numbered here; an "ok" ack pays nothing for them (one comparison, as before).
local ackState, ackProcessed, ackFailed, fillState, retryNo, R, NF = {}, {}, {}, {}, {}, 0, 0
-- An acked slot is usually filled again in the same call: its state key is built once, and read once.
local keys, nkeys, stateOf, stateList = {}, 0, {}, {}
for k = 1, A do
  local id = ARGV[ackAt + ACK * (k - 1)]
  local s = stateOf[id]
  if not s then
    s = workerPrefix .. id
    stateOf[id] = s
    stateList[#stateList + 1] = s
    nkeys = nkeys + 1
    keys[nkeys] = s
  end
  local p = processedPrefix .. id
  ackState[k], ackProcessed[k] = s, p
  nkeys = nkeys + 1
  keys[nkeys] = p
  local o = outcome[k]
  if o then
    if o ~= 'done' then
      ackFailed[k] = failedPrefix .. id
      nkeys = nkeys + 1
      keys[nkeys] = ackFailed[k]
      NF = NF + 1
    end
    if o == 'done' or o == 'retry' or o == 'giveup' then R = R + 1 retryNo[k] = R end
  end
end
for k = 1, F do
  local id = ARGV[fillAt + FILL * (k - 1)]
  local s = stateOf[id]
  if not s then
    s = workerPrefix .. id
    stateOf[id] = s
    stateList[#stateList + 1] = s
    nkeys = nkeys + 1
    keys[nkeys] = s
  end
  fillState[k] = s
end
-- stat:failed only when a job failed: a missing key costs an EXISTS (see strings()), and a drain has none.
local anyFailed = next(ackFailed) ~= nil
if A > 0 then nkeys = nkeys + 1 keys[nkeys] = processedKey end
if anyFailed then nkeys = nkeys + 1 keys[nkeys] = failedCountKey end
local vals, err = strings(keys)
if err then return bad(err, 'is not a string') end
local view, before = {}, {}
for j = 1, nkeys do
  local v = vals[j] or false
  view[keys[j]] = v
  before[keys[j]] = v
end
local newTokens = { lane, call }
-- Check what this call will use, before its first write: which acks apply (the slot holds a state with the
-- ack's token), the counters they bump, the states a failure entry or a replayed fill must decode.
local applies, cleared = {}, {}
local function counterOk(key) local v = view[key] return not v or counter(v) end
-- Where each failed ack's queue and raw item are (only a gone state needs them).
local extraAt, extra = queueAt + Q, {}
for k = 1, A do
  local a = ackAt + ACK * (k - 1)
  local stateKey = ackState[k]
  if ackFailed[k] then extra[k] = extraAt extraAt = extraAt + 2 end
  local token = known[k + 1] or nil
  local match = token == ARGV[a + 2]
  if view[stateKey] then
    -- Checked only on a mismatch, so the common case costs nothing more.
    if not match and not cleared[stateKey] and not (token and string.match(token, '^p?%d+$')) then
      match = true
      out[3] = out[3] + 1
    end
    match = match and not cleared[stateKey]
  elseif match then
    gone[k] = true
    goneIds[#goneIds + 1] = ARGV[a]
    match = false
  end
  if match or gone[k] then
    if match then applies[k], cleared[stateKey] = true, true end
    local pv = view[ackProcessed[k]]
    if pv and not counter(pv) then return bad(ackProcessed[k], 'is not an integer') end
    if ackFailed[k] then
      if match and not stateQueue(view[stateKey]) then return bad(stateKey, 'is not a worker state') end
      if not counterOk(ackFailed[k]) then return bad(ackFailed[k], 'is not an integer') end
    end
  end
end
for k = 1, F do
  local stateKey = fillState[k]
  if view[stateKey] and not cleared[stateKey] and not stateQueue(view[stateKey]) then return bad(stateKey, 'is not a worker state') end
end
if next(applies) or #goneIds > 0 then
  if not counterOk(processedKey) then return bad(processedKey, 'is not an integer') end
  if anyFailed and not counterOk(failedCountKey) then return bad(failedCountKey, 'is not an integer') end
end
local failures = 0
for k = 1, A do if (applies[k] or gone[k]) and ackFailed[k] and outcome[k] ~= 'retry' then failures = failures + 1 end end
if failures > 0 then
  local t = rcall('TYPE', failedKey).ok
  if t ~= 'list' and t ~= 'none' then return bad(failedKey, 'is a ' .. t .. ', not a list') end
end
local retryAt = queueAt + Q + 2 * NF
if R > 0 then
  local e = retryEach(retryCheck, A, retryNo, applies, gone, outcome, retryAt, queuePrefix)
  if e then return e end
end

-- Checked: from here on nothing can fail.
local heads = {}
-- INCRBY with a string increment: Redis does the arithmetic, and Lua never formats a number (printf).
local function bump(key)
  rcall('INCRBY', key, '1')
end
-- An ack whose state is missing means someone else already dealt with the job (Resque's prune, our reaper).
local processed, failed = 0, 0
for k = 1, A do
  if applies[k] or gone[k] then
    local a = ackAt + ACK * (k - 1)
    rcall('INCRBY', ackProcessed[k], '1')
    processed = processed + 1
    if ackFailed[k] and outcome[k] ~= 'retry' then
      local queue, payload
      if gone[k] then
        -- The state is gone: its payload as the state would have held it (newState's rule).
        local raw = ARGV[extra[k] + 1]
        queue, payload = ARGV[extra[k]], raw
        if not (utf8ok(raw) and sbyte(raw, 1) == 123 and sbyte(raw, -1) == 125) then payload = payloadJson(raw, true) end
      else
        queue, payload = unstate(view[ackState[k]])
      end
      if outcome[k] == 'bad' then payload = malformed(payload) end
      local d = detail[k]
      rcall('RPUSH', failedKey, failureEntry(failedAt, payload, ARGV[d], ARGV[d + 1], ARGV[d + 2], ARGV[a], queue))
    end
    if ackFailed[k] then
      bump(ackFailed[k])
      failed = failed + 1
    end
    view[ackState[k]] = false
  end
end
if processed > 0 then rcall('INCRBY', processedKey, processed) end
if R > 0 then retryEach(retryApply, A, retryNo, applies, gone, outcome, retryAt, queuePrefix) end
if failed > 0 then rcall('INCRBY', failedCountKey, failed) end

-- Only states are rewritten by finish(): counters were read only to be checked.
local function finish()
  local set, del = {}, {}
  for _, key in ipairs(stateList) do
    local v = view[key]
    if v and v ~= before[key] then set[#set + 1] = key set[#set + 1] = v
    elseif not v and before[key] then del[#del + 1] = key end
  end
  many('MSET', set)
  many('DEL', del)
  hsetMany(lanesKey, newTokens)
  return out
end
-- A call that fetches nothing returns after finish(); the ids of gone states go after its (empty) groups.
local function done()
  finish()
  for _, id in ipairs(goneIds) do nout = nout + 1 out[nout] = id end
  out[4] = #goneIds
  return out
end

if F == 0 then return done() end
local registered = redis.pcall('HEXISTS', beatsKey, proc)
if registered ~= 1 then out[1] = 2 return done() end
-- A pause key of another type is not "true": Resque would not pause either.
local pause = redis.pcall('GET', pauseKey)
if pauseSet(pause) then out[1] = 1 return done() end

-- A free slot that still holds a state (never expected; checked so that nothing is ever overwritten) gets it back.
local need = 0
for k = 1, F do if not view[fillState[k]] then need = need + 1 end end
local popped, pq, skipped = {}, {}, {}
local function take(queue)
  local got = redis.pcall('LPOP', queuePrefix .. queue, need)
  if type(got) == 'table' and got.err then
    skipped[#skipped + 1] = queue
  elseif got then
    for _, raw in ipairs(got) do popped[#popped + 1] = raw pq[#pq + 1] = queue end
    need = need - #got
  end
end
-- Many queues (`*` over a thousand): one EXISTS per chunk tells whether any of its queues has a job (Redis
-- deletes empty lists), so empty queues cost a key lookup each instead of a command each (issue #10).
local CHUNK = 64
for from = 1, Q, CHUNK do
  if need == 0 then break end
  local to = math.min(Q, from + CHUNK - 1)
  local look = to - from < 8
  if not look then
    local chunk = {}
    for qi = from, to do chunk[#chunk + 1] = queuePrefix .. ARGV[queueAt + qi - 1] end
    look = rcall('EXISTS', unpack(chunk)) > 0
  end
  if look then
    for qi = from, to do
      if need == 0 then break end
      take(ARGV[queueAt + qi - 1])
    end
  end
end
local p = 0
for slot = 1, F do
  local key = fillState[slot]
  if view[key] then
    emit(slot, view[key])
  elseif p < #popped then
    p = p + 1
    local v, flag = newState(pq[p], runAt, popped[p], heads)
    view[key] = v
    reply(slot, pq[p], flag, popped[p])
  end
  if view[key] then
    newTokens[#newTokens + 1] = tokenField(ARGV[fillAt + FILL * (slot - 1) + 1])
    newTokens[#newTokens + 1] = call
  end
end
done()
for _, q in ipairs(skipped) do nout = nout + 1 out[nout] = q end
return out
