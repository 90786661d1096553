--[[
  Helpers prepended to every script by scripts.ts (Lua has no imports).
  jstr(s): s as a JSON string, escaped as Ruby's JSON.generate does (control characters, quote, backslash).
  utf8ok(s): false when s is not valid UTF-8 (such bytes would make Ruby's JSON parser raise).
  record(v): token, queue, raw payload of an in-flight value "<token> <qlen> <queue><raw>".
  payloadJson(raw, asString): the payload as stored in a failure entry: the raw bytes themselves, or, for an
    item that is not a JSON object, a JSON string of it (non-UTF-8 bytes as \u00XX, so nothing is lost).
]]
local function jstr(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' elseif c == '\n' then return '\\n'
    elseif c == '\t' then return '\\t' elseif c == '\r' then return '\\r' end
    return string.format('\\u%04x', string.byte(c))
  end) .. '"'
end
local function utf8ok(s)
  if not string.find(s, '[\128-\255]') then return true end
  local t = string.gsub(s, '[\194-\223][\128-\191]', '')
  t = string.gsub(t, '[\224-\239][\128-\191][\128-\191]', '')
  t = string.gsub(t, '[\240-\244][\128-\191][\128-\191][\128-\191]', '')
  return not string.find(t, '[\128-\255]')
end
local function record(v)
  local a = string.find(v, ' ', 1, true)
  local b = string.find(v, ' ', a + 1, true)
  local qlen = tonumber(string.sub(v, a + 1, b - 1))
  return string.sub(v, 1, a - 1), string.sub(v, b + 1, b + qlen), string.sub(v, b + qlen + 1)
end
local function payloadJson(raw, asString)
  if not asString then return raw end
  local s = jstr(raw)
  if utf8ok(raw) then return s end
  return (string.gsub(s, '[\128-\255]', function(c) return string.format('\\u%04x', string.byte(c)) end))
end
