--[[
  promote-4.lua: one batch of due delayed items into their queues, under resque-scheduler's master lock, as one
  atomic step (reference section 6 (a), (d)).
  1. The lock, in the same step as the moves (a fence): taken when free (Ruby's SETNX + EXPIRE), renewed when
     ours (Ruby's locked?), taken over from a named holder the caller knows is dead; anyone else's: nothing moves.
  2. The oldest due second (by the caller's clock, as Ruby's scheduler uses its own) not in the skip list; its bucket's first ARGV[5] items
     are read and trimmed in this step, so an item a Ruby client pushes meanwhile is never trimmed unread.
  3. Each item goes to its queue as {"class":<its class bytes>,"args":<its args bytes>} (no re-encoding; `queue`
     and any other key dropped, as Ruby's promotion does; args that are not an array are wrapped as Ruby's
     Array() does). An item that is not a JSON object with a class, or has no queue (Ruby would drop it), becomes
     a failure entry that keeps its bytes. Its timestamps:<item> member is removed, as Ruby does.
  4. An emptied (or missing) bucket's schedule entry is removed.
  A schedule member that is not an integer string, or whose bucket is not a list, is reported and left alone.
  KEYS: 1 delayed_queue_schedule  2 master lock  3 queues  4 failed
  ARGV: 1 our lock value  2 a dead holder's value to take over, or ""  3 lock ttl ms  4 namespace  5 batch size
        6 failed_at  7 worker (for failure entries)  8 now (epoch ms)  9.. schedule members to skip (reported bad)
  Returns { master 0|1, holder, now ms, moved, failed, more 0|1, next second not due or "", bad member or "", why }.
]]
local function typeOf(k) return redis.call('TYPE', k).ok end
local function want(k, t)
  local got = typeOf(k)
  if got ~= 'none' and got ~= t then return bad(k, 'holds a ' .. got .. ', not a ' .. t) end
end
-- The idle path (a renewal with nothing due) is GET, ZRANGE and PEXPIRE only: it runs every few seconds in an
-- idle fleet, and every command inside a script counts against the idle traffic budget.
local me, nowMs = ARGV[1], ARGV[8]
local nowS = math.floor(tonumber(nowMs) / 1000)
local holder = redis.pcall('GET', KEYS[2])
if type(holder) == 'table' then return bad(KEYS[2], 'is not a string') end
if holder and holder ~= me and not (ARGV[2] ~= '' and holder == ARGV[2]) then
  return { 0, holder, nowMs, 0, 0, 0, '', '', '' }
end
local ns, batch = ARGV[4], tonumber(ARGV[5])
local skip, nskip = {}, 0
for i = 9, #ARGV do skip[ARGV[i]] = true; nskip = nskip + 1 end
-- The earliest second not skipped, and its score; nil when there is none.
local function earliest()
  local r = redis.pcall('ZRANGE', KEYS[1], 0, nskip, 'WITHSCORES')
  if r.err then return nil, nil, true end
  for i = 1, #r, 2 do
    if not skip[r[i]] then return r[i], tonumber(r[i + 1]) end
  end
end
local m, score, wrong = earliest()
if wrong then return bad(KEYS[1], 'is not a zset') end
local due = m ~= nil and score <= nowS
if due then
  local e = want(KEYS[3], 'set') or want(KEYS[4], 'list')
  if e then return e end
end
if holder == me then redis.call('PEXPIRE', KEYS[2], ARGV[3]) else redis.call('SET', KEYS[2], me, 'PX', ARGV[3]) end
local function report(moved, failed, bm, why)
  local n, sc = earliest()
  local more = n ~= nil and sc <= nowS
  return { 1, me, nowMs, moved, failed, more and 1 or 0, (n and not more) and string.format('%d', sc) or '', bm or '', why or '' }
end
if not due then return { 1, me, nowMs, 0, 0, 0, m and string.format('%d', score) or '', '', '' } end
if not string.match(m, '^[1-9]%d*$') then return report(0, 0, m, 'is not an integer number of seconds') end
local bucket = ns .. 'delayed:' .. m
local bt = typeOf(bucket)
if bt == 'none' then
  redis.call('ZREM', KEYS[1], m)
  return report(0, 0)
end
if bt ~= 'list' then return report(0, 0, m, bucket .. ' holds a ' .. bt .. ', not a list') end

local sfind, ssub, sbyte = string.find, string.sub, string.byte
local function skipString(s, i)
  local j = i + 1
  while true do
    local k = sfind(s, '["\\]', j)
    if not k then return nil end
    if sbyte(s, k) == 92 then j = k + 2 else return k + 1 end
  end
end
local function skipValue(s, i)
  local c = sbyte(s, i)
  if c == 34 then return skipString(s, i) end
  if c == 91 or c == 123 then
    local depth, j = 1, i + 1
    while depth > 0 do
      local k = sfind(s, '[%[%]{}"]', j)
      if not k then return nil end
      local ch = sbyte(s, k)
      if ch == 34 then j = skipString(s, k); if not j then return nil end
      else
        if ch == 91 or ch == 123 then depth = depth + 1 else depth = depth - 1 end
        j = k + 1
      end
    end
    return j
  end
  return sfind(s, '[,}%]%s]', i) or #s + 1
end
-- The byte spans of the top-level members' values of a JSON object cjson has already accepted.
local function spans(s)
  local out, i = {}, sfind(s, '{', 1, true)
  if not i then return nil end
  i = i + 1
  while true do
    i = sfind(s, '[^%s,]', i)
    if not i or sbyte(s, i) == 125 then return out end
    local kend = skipString(s, i)
    if not kend then return nil end
    local rawKey = ssub(s, i, kend - 1)
    local ok, key = pcall(cjson.decode, rawKey)
    if not ok then return nil end
    i = sfind(s, '[^%s:]', kend)
    if not i then return nil end
    local vend = skipValue(s, i)
    if not vend then return nil end
    out[key] = ssub(s, i, vend - 1)
    i = vend
  end
end

local items = redis.call('LRANGE', bucket, 0, batch - 1)
local member = 'delayed:' .. m
-- Plan every write first: nothing below can fail once writing starts.
local pushes, order, failures, indexed = {}, {}, {}, {}
local function fail(item, payload, exception, why)
  failures[#failures + 1] = failureEntry(ARGV[6], payload, jstr(exception), jstr(why), '[]', ARGV[7], '')
end
for _, item in ipairs(items) do
  local ok, obj = false, nil
  if utf8ok(item) then ok, obj = pcall(cjson.decode, item) end
  local sp = ok and type(obj) == 'table' and type(obj.class) == 'string' and obj.class ~= '' and spans(item)
  if not sp or not sp.class then
    fail(item, malformed(item), 'MalformedPayloadError', 'delayed item in ' .. bucket .. ' is not a JSON object with a class')
  elseif type(obj.queue) ~= 'string' or obj.queue == '' then
    fail(item, item, 'Resque::NoQueueError', 'delayed item in ' .. bucket .. ' names no queue (a Ruby scheduler would drop it)')
  else
    local q = obj.queue
    local args = sp.args
    if not args or args == 'null' then args = '[]' elseif sbyte(args, 1) ~= 91 then args = '[' .. args .. ']' end
    if not pushes[q] then
      local qt = typeOf(ns .. 'queue:' .. q)
      if qt ~= 'none' and qt ~= 'list' then
        pushes[q] = false
      else
        pushes[q] = {}
        order[#order + 1] = q
      end
    end
    if pushes[q] == false then
      fail(item, item, 'Bunworker::BadQueueKey', ns .. 'queue:' .. q .. ' is not a list')
    else
      local p = pushes[q]
      p[#p + 1] = '{"class":' .. sp.class .. ',"args":' .. args .. '}'
    end
  end
  local tk = ns .. 'timestamps:' .. item
  if indexed[tk] == nil then
    local tt = typeOf(tk)
    indexed[tk] = tt == 'set'
  end
end

local function pushAll(key, list)
  for from = 1, #list, 1000 do redis.call('RPUSH', key, unpack(list, from, math.min(#list, from + 999))) end
end
for tk, isSet in pairs(indexed) do
  if isSet then redis.call('SREM', tk, member) end
end
local moved = 0
for _, q in ipairs(order) do
  redis.call('SADD', KEYS[3], q)
  pushAll(ns .. 'queue:' .. q, pushes[q])
  moved = moved + #pushes[q]
end
pushAll(KEYS[4], failures)
redis.call('LTRIM', bucket, #items, -1)
if redis.call('EXISTS', bucket) == 0 then redis.call('ZREM', KEYS[1], m) end
return report(moved, #failures)
