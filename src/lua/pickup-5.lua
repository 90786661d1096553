--[[
  The job a blocker was waiting for, taken in the same hop (issue #10): blocker.ts sends this right behind its
  `BLMOVE q q RIGHT RIGHT` on the same connection, so Redis runs it the moment the wait ends. It moves at most
  one job from the queue into one borrowed slot's worker:<id> state, atomically, like lane-cycle does.
  The slot's state is its own idempotency token: a pickup writes only into an empty state, so a resent or
  abandoned pickup can never take a second job or restart a finished one; a state it wrote whose reply was
  lost is found by the lane's next fetch ("a free slot that still holds a state gets it back").
  It fetches nothing for a process that is no longer registered (reaped while frozen, issue #9), or while
  pause-all-workers is set. Its one write comes after every check (all or nothing).
  scripts.ts (pickup) alone knows this layout.

  The job's token (see lane-cycle-6.lua) goes into the lanes hash in the same step.

  KEYS[1] queue:<q>   KEYS[2] worker:<id> of the borrowed slot   KEYS[3] bunworker:beats   KEYS[4] pause-all-workers
  KEYS[5] this process's lanes hash
  ARGV[1] process ("host:pid:instance")   ARGV[2] run_at   ARGV[3] the queue's name   ARGV[4] the slot's number
  ARGV[5] the job's token
  Returns {} (the queue is empty), { "skip" } (it has jobs this pickup may not take: the slot is occupied, this
  process is not registered, or pause-all-workers is set; a lane's fetch must look, and closes the gate while
  paused), or { flag ("" | "u": not UTF-8), raw payload, 1 if the queue has more jobs }
]]
local queueKey, stateKey, beatsKey, pauseKey, lanesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local proc, runAt, queue, slotNo, token = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
-- The common case when the wait timed out: one command.
if redis.call('EXISTS', queueKey) == 0 then return {} end
local current = redis.pcall('GET', stateKey)
if type(current) == 'table' and current.err then return bad(stateKey, 'is not a string') end
if current then return { 'skip' } end
local registered = redis.pcall('HEXISTS', beatsKey, proc)
if type(registered) == 'table' and registered.err then return bad(beatsKey, 'is not a hash') end
if registered == 0 then return { 'skip' } end
local pause = redis.pcall('GET', pauseKey)
if pauseSet(pause) then return { 'skip' } end
local lanesOk = redis.pcall('HEXISTS', lanesKey, tokenField(slotNo))
if type(lanesOk) == 'table' and lanesOk.err then return bad(lanesKey, 'is not a hash') end
local raw = redis.pcall('LPOP', queueKey)
if type(raw) ~= 'string' then return { 'skip' } end
local state, flag = newState(queue, runAt, raw)
redis.call('SET', stateKey, state)
redis.call('HSET', lanesKey, tokenField(slotNo), token)
return { flag, raw, redis.call('EXISTS', queueKey) }
