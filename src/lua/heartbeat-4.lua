--[[
  Register (first call) or heartbeat (every later call) all worker ids of this process. Re-adds any id
  that was removed from outside (a Ruby worker's prune, Resque.remove_worker), so such a removal heals
  within one heartbeat interval.

  KEYS[1] workers   KEYS[2] workers:heartbeat   KEYS[3] bunworker:processes   KEYS[4] bunworker:beats
  ARGV[1] process ("host:pid")   ARGV[2] heartbeat value (Time.parse-able)   ARGV[3] started value
  ARGV[4] prefix of worker:<id>  ARGV[5] JSON array of the ids   ARGV[6..] the ids
  Returns the number of ids that were not registered.
]]
local added = 0
for k = 6, #ARGV do
  local id = ARGV[k]
  redis.call('HSET', KEYS[2], id, ARGV[2])
  if redis.call('SADD', KEYS[1], id) == 1 then
    added = added + 1
    redis.call('SET', ARGV[4] .. id .. ':started', ARGV[3], 'NX')
  end
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
local t = redis.call('TIME')
redis.call('HSET', KEYS[4], ARGV[1], tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
return added
