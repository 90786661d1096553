--[[
  release-lock-1.lua: give up resque-scheduler's master lock if we hold it (compare-and-DEL; Ruby's release is
  a non-atomic locked? then DEL).  KEYS: 1 master lock   ARGV: 1 our lock value.  Returns 1 if released.
]]
if redis.pcall('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
