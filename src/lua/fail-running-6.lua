--[[
  The job that blocked the event loop past --job-timeout becomes a failure entry just before the beat thread
  ends the process (issue #14): otherwise its restart would hand it back, and it would block the next worker
  the same way, forever. Resque's own accounting for a failed job: the entry, stat:processed and stat:failed,
  globally and for the worker, and the worker state cleared, in one step. The other running jobs are left to
  release (the restart, or another worker's reaper).
  All or nothing: every key is checked before the first write; a key of the wrong type changes nothing.
  pulse.ts alone knows this layout.

  KEYS[1] worker:<id>   KEYS[2] failed   KEYS[3] stat:processed   KEYS[4] stat:failed   KEYS[5] stat:processed:<id>
  KEYS[6] stat:failed:<id>
  ARGV[1] the worker id   ARGV[2] failed_at   ARGV[3] exception (JSON)   ARGV[4] the error message, as text; the
  job's class is put in place of "%s"
  Returns {} when the slot holds no readable job, or { queue, class } of the job it failed.
]]
local stateKey, failedKey = KEYS[1], KEYS[2]
local id, at, exception, message = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local v = redis.pcall('GET', stateKey)
if type(v) ~= 'string' then return {} end
local queue, payload = unstate(v)
if not queue then return {} end
local t = redis.call('TYPE', failedKey).ok
if t ~= 'list' and t ~= 'none' then return {} end
for k = 3, 6 do
  local c = redis.pcall('GET', KEYS[k])
  if type(c) == 'table' or (c and not counter(c)) then return {} end
end
local ok, job = pcall(cjson.decode, payload)
local class = ok and type(job) == 'table' and type(job.class) == 'string' and job.class or '?'
local text = string.gsub(message, '%%s', function() return class end)
redis.call('RPUSH', failedKey, failureEntry(at, payload, exception, jstr(text), '[]', id, queue))
for k = 3, 6 do redis.call('INCRBY', KEYS[k], '1') end
redis.call('DEL', stateKey)
return { queue, class }
