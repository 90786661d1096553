--[[
  Helpers prepended to the scripts by scripts.ts (Lua has no imports).
  jstr(s): s as a JSON string, escaped as Ruby's JSON.generate does (control characters, quote, backslash).
  utf8ok(s): false when s is not valid UTF-8 (such bytes would make Ruby's JSON parser raise).
  payloadJson(raw, asString): the payload as stored: the raw bytes themselves, or, for an item that cannot be
    embedded as JSON, a JSON string of it (bytes that are not UTF-8 as \u00XX, so nothing is lost).
  state(queue, runAt, payload): the worker:<id> value, Resque's {"queue","run_at","payload"}. It is also our
    in-flight record: the job leaves it only in the script that writes the job's outcome.
  unstate(v): queue, payload of a state written by state() (run_at is always 20 characters).
  failureEntry(failedAt, payload, exception, error, backtrace, worker, queue): a `failed` list entry in
    Resque's key order. exception, error and backtrace come already JSON-encoded; the one builder of the
    entry, for the lane's failed jobs and for a dead process's running jobs alike.
]]
local function jstr(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' elseif c == '\n' then return '\\n'
    elseif c == '\t' then return '\\t' elseif c == '\r' then return '\\r' end
    return string.format('\\u%04x', string.byte(c))
  end) .. '"'
end
local sfind = string.find
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
local function unstate(v)
  local at = string.find(v, ',"run_at":"', 10, true)
  return cjson.decode(string.sub(v, 10, at - 1)), string.sub(v, at + 43, -2)
end
local function failureEntry(failedAt, payload, exception, error, backtrace, worker, queue)
  return '{"failed_at":"' .. failedAt .. '","payload":' .. payload .. ',"exception":' .. exception .. ',"error":' .. error ..
    ',"backtrace":' .. backtrace .. ',"worker":' .. jstr(worker) .. ',"queue":' .. jstr(queue) .. '}'
end
