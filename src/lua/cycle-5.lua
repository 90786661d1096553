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
for _ = 1, A do
  local id, token, outcome, tail = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local v = redis.call('HGET', KEYS[1], id)
  if v then
    local tok, queue, raw = record(v)
    if tok == token then
      redis.call('HDEL', KEYS[1], id)
      redis.call('DEL', ARGV[1] .. id)
      redis.call('INCRBY', ARGV[2] .. id, 1)
      processed = processed + 1
      if outcome ~= 'ok' then
        redis.call('RPUSH', KEYS[4], '{"failed_at":"' .. ARGV[7] .. '","payload":' .. payloadJson(raw, outcome == 'bad') .. tail)
        redis.call('INCRBY', ARGV[3] .. id, 1)
        failed = failed + 1
      end
    end
  end
end
if processed > 0 then redis.call('INCRBY', KEYS[2], processed) end
if failed > 0 then redis.call('INCRBY', KEYS[3], failed) end

local out = { 0, 0 }
if F == 0 then return out end
local pause = redis.call('GET', KEYS[5])
if pause and string.lower(string.match(pause, '^%s*(.-)%s*$')) == 'true' then out[1] = 1 return out end

local queues, qi, landingDone = {}, 1, {}
for q = 1, Q do queues[q] = ARGV[i + 2 * F + q - 1] end
local n = 0
for slot = 1, F do
  local id, token = ARGV[i], ARGV[i + 1]
  i = i + 2
  local queue, raw
  local existing = redis.call('HGET', KEYS[1], id)
  if existing then
    token, queue, raw = record(existing)
  else
    while qi <= Q do
      if not landingDone[qi] then
        raw = redis.call('LPOP', ARGV[5] .. queues[qi])
        if not raw then landingDone[qi] = true end
      end
      if not raw then raw = redis.call('LPOP', ARGV[4] .. queues[qi]) end
      if raw then queue = queues[qi] break end
      qi = qi + 1
    end
    if not raw then break end
    redis.call('HSET', KEYS[1], id, token .. ' ' .. #queue .. ' ' .. queue .. raw)
  end
  local flag = ''
  if not utf8ok(raw) then flag = 'u' end
  if flag == '' and string.byte(raw, 1) == 123 and string.byte(raw, -1) == 125 then
    redis.call('SET', ARGV[1] .. id, '{"queue":' .. jstr(queue) .. ',"run_at":"' .. ARGV[6] .. '","payload":' .. raw .. '}')
  end
  n = n + 1
  out[#out + 1] = slot
  out[#out + 1] = token
  out[#out + 1] = queue
  out[#out + 1] = flag
  out[#out + 1] = raw
end
out[2] = n
return out
