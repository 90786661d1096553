--[[
  Helpers prepended to the scripts by scripts.ts (Lua has no imports).
  jstr(s): s as a JSON string, escaped as Ruby's JSON.generate does (control characters, quote, backslash).
  utf8ok(s): false when s is not valid UTF-8 (such bytes would make Ruby's JSON parser raise).
  payloadJson(raw, asString): the payload as stored: the raw bytes themselves, or, for an item that cannot be
    embedded as JSON, a JSON string of it (bytes that are not UTF-8 as \u00XX, so nothing is lost).
  newState(queue, runAt, raw, heads): the worker:<id> value for a job just taken, Resque's
    {"queue","run_at","payload"}, and its flag ("" | "u": not UTF-8); `heads` (optional) caches the part before
    the payload per queue. It is also our in-flight record: the job leaves it only in the script that writes
    the job's outcome.
  pauseSet(v): resque:pause-all-workers holds "true" (any case, any spaces), as Resque reads it; v is what
    redis.pcall('GET') answered (a key of another type is not "true").
  bad(key, why): the error a script returns when a key it must use is unusable, changing nothing.
  unstate(v): queue, payload of such a state (run_at is always 20 characters); nil for anything else.
  stateQueue(v): the same check, without copying the payload out: queue and where run_at starts.
  malformed(payload): the failure payload of an item that is not a runnable job: a job Resque's tools can
    show and retry, {"class":"Bunworker::MalformedPayload","args":[<the item as a JSON string>]} (issue #9).
  failureEntry(failedAt, payload, exception, error, backtrace, worker, queue): a `failed` list entry in
    Resque's key order. exception, error and backtrace come already JSON-encoded; the one builder of the
    entry, for the lane's failed jobs and for a dead process's running jobs alike.
  strings(keys): MGET of keys, checked to be strings or missing; returns values, or nil and the first key
    that holds another type (MGET answers nil for those, so EXISTS tells them apart).
  counter(v): v is an integer INCRBY accepts and can add to without overflow.
  many(cmd, list): one command for many arguments, below Lua's unpack limit.
  tokenField(slot): the lanes hash's field that holds the token of the job in slot number `slot`.
  hmgetFrom(key, fields, out, from): HMGET of fields[from..] into out[from..] (false for a missing one), in
    chunks below Lua's unpack limit; hsetMany(key, list): HSET of field, value, ... the same way.
    One field per slot keeps a call's cost in tokens proportional to the slots it touches: the single
    comma-separated field this replaced was split and joined whole, ~0.5 ms per call at 1,000 slots (#14).
]]
local function jstr(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' elseif c == '\n' then return '\\n'
    elseif c == '\t' then return '\\t' elseif c == '\r' then return '\\r' end
    return string.format('\\u%04x', string.byte(c))
  end) .. '"'
end
local sfind, sbyte1, smatch = string.find, string.byte, string.match
local function utf8ok(s)
  if not sfind(s, '[\128-\255]') then return true end
  local t = string.gsub(s, '[\194-\223][\128-\191]', '')
  t = string.gsub(t, '[\224-\239][\128-\191][\128-\191]', '')
  t = string.gsub(t, '[\240-\244][\128-\191][\128-\191][\128-\191]', '')
  return not string.find(t, '[\128-\255]')
end
local function payloadJson(raw, asString)
  if not asString then return raw end
  local s = jstr(raw)
  if utf8ok(raw) then return s end
  return (string.gsub(s, '[\128-\255]', function(c) return string.format('\\u%04x', string.byte(c)) end))
end
local function newState(queue, runAt, raw, heads)
  local head = heads and heads[queue]
  if not head then
    head = '{"queue":' .. jstr(queue) .. ',"run_at":"' .. runAt .. '","payload":'
    if heads then heads[queue] = head end
  end
  -- The common case, a JSON object of ASCII bytes, without the calls below.
  if not sfind(raw, '[\128-\255]') and sbyte1(raw, 1) == 123 and sbyte1(raw, -1) == 125 then return head .. raw .. '}', '' end
  local flag = utf8ok(raw) and '' or 'u'
  local embed = flag == '' and string.byte(raw, 1) == 123 and string.byte(raw, -1) == 125
  return head .. payloadJson(raw, not embed) .. '}', flag
end
local function pauseSet(v)
  return type(v) == 'string' and string.lower(string.match(v, '^%s*(.-)%s*$')) == 'true'
end
local function bad(key, why) return redis.error_reply('BADKEY ' .. key .. ' ' .. why) end
local function stateQueue(v)
  if string.sub(v, 1, 10) ~= '{"queue":"' or string.byte(v, -1) ~= 125 then return nil end
  local at = string.find(v, ',"run_at":"', 10, true)
  if not at or at + 43 > #v then return nil end
  -- A queue name without escapes is the text between the quotes (every job pays this; decoding is slower).
  local plain = string.sub(v, 11, at - 2)
  if string.byte(v, at - 1) == 34 and not string.find(plain, '[\\"]') then return plain, at end
  local ok, queue = pcall(cjson.decode, string.sub(v, 10, at - 1))
  if not ok or type(queue) ~= 'string' then return nil end
  return queue, at
end
local function unstate(v)
  local queue, at = stateQueue(v)
  if not queue then return nil end
  return queue, string.sub(v, at + 43, -2)
end
local function malformed(payload)
  if string.byte(payload, 1) ~= 34 then payload = payloadJson(payload, true) end
  return '{"class":"Bunworker::MalformedPayload","args":[' .. payload .. ']}'
end
local function failureEntry(failedAt, payload, exception, error, backtrace, worker, queue)
  return '{"failed_at":"' .. failedAt .. '","payload":' .. payload .. ',"exception":' .. exception .. ',"error":' .. error ..
    ',"backtrace":' .. backtrace .. ',"worker":' .. jstr(worker) .. ',"queue":' .. jstr(queue) .. '}'
end
local function strings(keys)
  local vals, missing, n = {}, {}, #keys
  for from = 1, n, 1000 do
    local to = math.min(n, from + 999)
    local got = redis.call('MGET', unpack(keys, from, to))
    for i = 1, to - from + 1 do
      if got[i] then vals[from + i - 1] = got[i] else missing[#missing + 1] = keys[from + i - 1] end
    end
  end
  -- Only a key MGET found nothing for can hold another type; usually there is none, and no EXISTS is sent.
  if #missing == 0 or redis.call('EXISTS', unpack(missing, 1, math.min(#missing, 1000))) == 0 and #missing <= 1000 then return vals end
  for _, key in ipairs(missing) do
    if redis.call('EXISTS', key) == 1 then return nil, key end
  end
  return vals
end
local function counter(v)
  return #v <= 18 and (v == '0' or smatch(v, '^%-?[1-9]%d*$') ~= nil)
end
local function many(cmd, list)
  for from = 1, #list, 1000 do redis.call(cmd, unpack(list, from, math.min(#list, from + 999))) end
end
local function tokenField(slot)
  return 't' .. slot
end
local function hmgetFrom(key, fields, out, from)
  for f = from, #fields, 1000 do
    local got = redis.call('HMGET', key, unpack(fields, f, math.min(#fields, f + 999)))
    for i = 1, #got do out[f + i - 1] = got[i] end
  end
  return out
end
local function hsetMany(key, list)
  for from = 1, #list, 1000 do redis.call('HSET', key, unpack(list, from, math.min(#list, from + 999))) end
end
