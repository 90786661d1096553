--[[
  Resque::Failure.remove for many entries at once (reference section 4): LSET the entry to "" then LREM 1 "",
  the same two commands as Resque, so a Ruby process removing at the same moment still removes the right one.
  Entries are found by their bytes (index hint, shifted by what earlier entries were off by, then LPOS), since
  others append and remove concurrently; the caller sends them highest index first, so a removal never moves
  an entry still to come. An entry no longer there is skipped and counted.

  KEYS[1] failed
  ARGV[1] shift: how far the previous call found its entries from their hints; then pairs: index hint, entry bytes
  Returns { removed, missing, shift }, or an error "BADKEY <key> <why>".
]]
local failedKey = KEYS[1]
local t = redis.call('TYPE', failedKey).ok
if t ~= 'list' and t ~= 'none' then return redis.error_reply('BADKEY ' .. failedKey .. ' is a ' .. t .. ', not a list') end
local shift, removed, missing = tonumber(ARGV[1]), 0, 0
for g = 2, #ARGV, 2 do
  local hint, old = tonumber(ARGV[g]), ARGV[g + 1]
  local at = hint + shift
  if redis.call('LINDEX', failedKey, at) ~= old then at = redis.call('LPOS', failedKey, old) end
  if at then
    shift = at - hint
    redis.call('LSET', failedKey, at, '')
    redis.call('LREM', failedKey, 1, '')
    removed = removed + 1
  else
    missing = missing + 1
  end
end
return { removed, missing, shift }
