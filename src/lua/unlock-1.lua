--[[
  Release the prune lock only if we still hold it, so a Ruby worker starting now can prune as well.
  KEYS[1] pruning_dead_workers_in_progress   ARGV[1] our process ("host:pid")
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
