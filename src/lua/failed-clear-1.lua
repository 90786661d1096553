--[[
  Resque::Failure.clear (DEL failed), returning how many entries were deleted: counted in the same atomic step,
  so an entry a worker appends meanwhile is either counted and deleted or kept.
  KEYS[1] failed. Returns the count, or an error "BADKEY <key> <why>".
]]
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'list' and t ~= 'none' then return redis.error_reply('BADKEY ' .. KEYS[1] .. ' is a ' .. t .. ', not a list') end
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
