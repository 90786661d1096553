// What an operator does to delayed jobs, shared by `bunworker delayed` and the dashboard's Delayed page (#17
// point 5, #18): page through the scheduled seconds and their jobs with bounded reads (ZRANGE by index, LRANGE
// pages, never the whole schedule), make a second or one job due now, remove one job at a second or a whole
// second. Nothing here moves an item into its queue: making it due hands it to whoever holds resque-scheduler's
// master lock (a bunworker promoter or a Ruby scheduler), the only process that may (reference 2.3).
import type { RedisClient } from "bun";
import type { Keys } from "./keys";
import delayedJobLua from "./lua/delayed-job-3.lua" with { type: "text" };
import delayedClearLua from "./lua/delayed-clear-2.lua" with { type: "text" };
import includeRecord from "./lua/include-record.lua" with { type: "text" };
import { delayedCountScript } from "./delayed-scripts";
import { runScript, script } from "./scripts";

export const adminScripts = {
  delayedJob: script("delayed-job", delayedJobLua, 3, includeRecord),
  delayedClear: script("delayed-clear", delayedClearLua, 2, includeRecord),
} as const;

/** Jobs removed per delayed-clear-2.lua call. */
const CLEAR_BATCH = 1000;
/** Above this many scheduled seconds the job count (one LLEN per second, in Lua) is not taken on every page view. */
export const COUNT_CAP = 1_000;

export interface DelayedSecond {
  /** The schedule member: the second as an integer string. */
  ts: string;
  score: number;
  /** The bucket's length, or null when it is not a list. */
  size: number | null;
  /** Why the bucket cannot be read ("" when it can). */
  problem: string;
  /** The first jobs of the bucket, as stored. */
  items: string[];
}

const SECOND = /^\d+$/;

export function checkSecond(ts: string, what: string): void {
  if (!SECOND.test(ts)) throw new Error(`${what}: the second must be an integer as \`delayed list\` shows it, got "${ts}"`);
}

async function bucket(c: RedisClient, keys: Keys, ts: string, start: number, count: number): Promise<{ size: number | null; problem: string; items: string[] }> {
  const key = keys.delayed(ts);
  const type = (await c.send("TYPE", [key])) as string;
  if (type === "none") return { size: 0, problem: "no bucket", items: [] };
  if (type !== "list") return { size: null, problem: `${key} is a ${type}, not a list`, items: [] };
  const [size, items] = await Promise.all([c.send("LLEN", [key]) as Promise<number>, count > 0 ? (c.send("LRANGE", [key, String(start), String(start + count - 1)]) as Promise<string[]>) : Promise.resolve([])]);
  return { size: Number(size), problem: "", items };
}

/** One page of scheduled seconds, oldest first, each with its first `jobsPer` jobs; and how many seconds there are. */
export async function delayedSeconds(c: RedisClient, keys: Keys, start: number, count: number, jobsPer: number): Promise<{ total: number; seconds: DelayedSecond[] }> {
  const [total, reply] = await Promise.all([c.send("ZCARD", [keys.delayedSchedule]) as Promise<number>, c.send("ZRANGE", [keys.delayedSchedule, String(start), String(start + count - 1), "WITHSCORES"]) as Promise<unknown>]);
  const flat = (Array.isArray(reply) ? reply : []).flat() as unknown[];
  const pairs: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), Number(flat[i + 1])]);
  const seconds = await Promise.all(pairs.map(async ([ts, score]) => ({ ts, score, ...(await bucket(c, keys, ts, 0, jobsPer)) })));
  return { total: Number(total), seconds };
}

/** One page of the jobs at one second. */
export async function secondJobs(c: RedisClient, keys: Keys, ts: string, start: number, count: number): Promise<DelayedSecond> {
  checkSecond(ts, "delayed");
  const [score, b] = await Promise.all([c.send("ZSCORE", [keys.delayedSchedule, ts]) as Promise<string | number | null>, bucket(c, keys, ts, start, count)]);
  return { ts, score: score === null ? NaN : Number(score), ...b };
}

/** Scheduled seconds, and the number of jobs when there are at most COUNT_CAP seconds (null above). */
export async function delayedTotals(c: RedisClient, keys: Keys): Promise<{ seconds: number; jobs: number | null }> {
  const seconds = Number(await c.send("ZCARD", [keys.delayedSchedule]));
  return { seconds, jobs: seconds <= COUNT_CAP ? await delayedCountScript(c, keys) : null };
}

/** Makes a whole second due now; returns how many jobs it holds. Throws when the second is not scheduled. */
export async function enqueueSecondNow(c: RedisClient, keys: Keys, ts: string): Promise<number> {
  checkSecond(ts, "enqueue-now");
  // XX: only a second that is scheduled; score 0 makes it due for every promoter, Ruby's included.
  const changed = Number(await c.send("ZADD", [keys.delayedSchedule, "XX", "CH", "0", ts]));
  if (changed === 0 && (await c.send("ZSCORE", [keys.delayedSchedule, ts])) === null) throw new Error(`enqueue-now: no delayed jobs at second ${ts}`);
  return Number(await c.llen(keys.delayed(ts)));
}

function jobAt(c: RedisClient, keys: Keys, mode: "remove" | "now", ts: string, item: string): Promise<number> {
  checkSecond(ts, mode === "now" ? "enqueue-now" : "remove");
  return runScript<number>(c, adminScripts.delayedJob, [keys.delayed(ts), keys.timestamps(item), keys.delayedSchedule], [mode, item, ts, keys.ns]);
}

/** Makes one job (its stored bytes) at second `ts` due now; 0 when it was no longer there. */
export const enqueueJobNow = (c: RedisClient, keys: Keys, ts: string, item: string): Promise<number> => jobAt(c, keys, "now", ts, item);

/** Removes every copy of one job (its stored bytes) at second `ts` only; returns how many. */
export const removeJobAt = (c: RedisClient, keys: Keys, ts: string, item: string): Promise<number> => jobAt(c, keys, "remove", ts, item);

/** Removes every job at second `ts`, a batch per step; returns how many. */
export async function removeSecond(c: RedisClient, keys: Keys, ts: string): Promise<number> {
  checkSecond(ts, "remove");
  // Bounded even if a writer keeps pushing to this second: what arrives after the first pass may stay.
  let rounds = Math.ceil(Number(await c.send("LLEN", [keys.delayed(ts)]).catch(() => 0)) / CLEAR_BATCH) + 2;
  let removed = 0;
  while (rounds-- > 0) {
    const [n, more] = await runScript<[number, number]>(c, adminScripts.delayedClear, [keys.delayed(ts), keys.delayedSchedule], [ts, keys.ns, CLEAR_BATCH]);
    removed += Number(n);
    if (Number(more) === 0) break;
  }
  return removed;
}

/** Who holds resque-scheduler's master lock ("host:pid:instance" for bunworker, "host:pid" for Ruby), and for how long yet. */
export async function masterLock(c: RedisClient, keys: Keys): Promise<{ holder: string | null; ttlMs: number }> {
  const [holder, ttl] = await Promise.all([c.send("GET", [keys.schedulerLock]).catch((e: Error) => `(unreadable: ${e.message})`) as Promise<string | null>, c.send("PTTL", [keys.schedulerLock]) as Promise<number>]);
  return { holder: holder ?? null, ttlMs: Number(ttl) };
}
