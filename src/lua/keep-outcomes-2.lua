--[[
  Keep the outcomes of finished jobs whose acks this process could not write (issue #14): a key the lane-cycle
  script must write was unusable (stat:processed of the wrong type, the failed list a hash, ...), so the worker
  stops. Its shutdown runs this before release: each such job's state leaves worker:<id> (so release does not
  hand it back as if it had not run) for the outcomes list, where record-outcomes-4.lua writes it (the counters,
  the failure entry) at the next worker start, once the key is fixed. A job whose slot holds another job (its
  token differs: its ack did apply after all, or a failover) is left alone.
  All or nothing: the outcomes list is checked before the first write ("BADKEY <key> <why>"); then release
  hands the jobs back instead (at least once).
  scripts.ts (keepOutcomes) alone knows this layout.

  KEYS[1] this process's lanes hash (its token fields "t<slot>"; a hash that is missing or of another type means the
          tokens are unknown: the ack is trusted, as lane-cycle does)
  KEYS[2] bunworker:outcomes (a list)
  ARGV[1] prefix of worker:<id>   ARGV[2] failed_at   ARGV[3] A = acks
  then A groups of 7 (lane-cycle-6.lua sends an "ok" as 3; this rare script keeps one form): worker id,
  slot number, token, outcome, exception, error, backtrace
  Returns the number of outcomes kept.
  An entry is {"outcome":"ok","worker":<id>,"queue":<q>,"payload":<payload>} or
  {"outcome":"failed","failure":<the failed-list entry, byte for byte>}.
]]
local lanesKey, outcomesKey = KEYS[1], KEYS[2]
local workerPrefix, failedAt, A = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TYPE', outcomesKey).ok
if t ~= 'list' and t ~= 'none' then return bad(outcomesKey, 'is a ' .. t .. ', not a list') end
local fields = {}
for k = 1, A do fields[k] = tokenField(ARGV[4 + 7 * (k - 1) + 1]) end
-- A lanes hash of another type: every token unknown (the pcall's error is not a table of tokens).
local okTokens, tokens = pcall(hmgetFrom, lanesKey, fields, {}, 1)
if not okTokens then tokens = {} end
local entries, states = {}, {}
for k = 1, A do
  local a = 4 + 7 * (k - 1)
  local id = ARGV[a]
  local v = redis.pcall('GET', workerPrefix .. id)
  local token = tokens[k] or nil
  if type(v) == 'string' and (token == ARGV[a + 2] or not (token and string.match(token, '^p?%d+$'))) then
    local queue, payload = unstate(v)
    if queue then
      if ARGV[a + 3] == 'ok' then
        entries[#entries + 1] = '{"outcome":"ok","worker":' .. jstr(id) .. ',"queue":' .. jstr(queue) .. ',"payload":' .. payload .. '}'
      else
        if ARGV[a + 3] == 'bad' then payload = malformed(payload) end
        entries[#entries + 1] = '{"outcome":"failed","failure":' .. failureEntry(failedAt, payload, ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], id, queue) .. '}'
      end
      states[#states + 1] = workerPrefix .. id
    end
  end
end
-- Checked: from here on nothing can fail.
for from = 1, #entries, 1000 do redis.call('RPUSH', outcomesKey, unpack(entries, from, math.min(#entries, from + 999))) end
many('DEL', states)
return #entries
