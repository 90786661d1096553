// Delayed jobs in resque-scheduler's layout (reference sections 1.1-1.4 and 6 (b)): the item bytes Ruby writes
// (`{"class","args","queue"}`, compact, keys in that order, integers of any size exact), so Ruby's
// remove_delayed, delayed? and resque-web's Delayed tab find ours by their bytes.
import type { RedisClient } from "bun";
import { SettingsError } from "./errors";
import type { Keys } from "./keys";
import { delayedCountScript, enqueueAtScript, removeDelayedScript, type DelayedItem } from "./delayed-scripts";

export interface DelayedJob {
  queue: string;
  payload: { class: string; args?: unknown[] };
}

/** JSON as Ruby's JSON.generate writes it for these values: compact, bigint exact, NaN/Infinity refused. */
export function rubyJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return JSON.rawJSON(x.toString());
    if (typeof x === "number" && !Number.isFinite(x)) throw new SettingsError(`${x} cannot be encoded as JSON (Ruby refuses it too)`);
    return x;
  });
}

function check(job: DelayedJob, what: string): void {
  if (typeof job?.queue !== "string" || !job.queue) throw new SettingsError(`${what}: queue is required (a Ruby scheduler cannot promote an item without one)`);
  if (typeof job.payload?.class !== "string" || !job.payload.class) throw new SettingsError(`${what}: payload.class must be a non-empty string`);
  if (job.payload.args !== undefined && !Array.isArray(job.payload.args)) throw new SettingsError(`${what}: payload.args must be an array`);
  const extra = Object.keys(job.payload).filter((k) => k !== "class" && k !== "args");
  if (extra.length) throw new SettingsError(`${what}: payload keys other than class and args (${extra.join(", ")}) would be dropped by promotion, as resque-scheduler drops them`);
}

/** The bucket item: Ruby's job_to_hash_with_queue, `class`, `args`, `queue` in that order. */
export function delayedItem(job: DelayedJob): string {
  return rubyJson({ class: job.payload.class, args: job.payload.args ?? [], queue: job.queue });
}

/** Unix seconds, floored (Ruby's `timestamp.to_i`), of a Date or epoch milliseconds. */
export function toSecond(when: Date | number, what: string): string {
  const ms = when instanceof Date ? when.getTime() : when;
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new SettingsError(`${what}: the time must be a Date or epoch milliseconds, got ${String(when)}`);
  return String(Math.floor(ms / 1000));
}

export function enqueueAtWith(c: RedisClient, keys: Keys, when: Date | number, job: DelayedJob): Promise<"queued" | "delayed"> {
  check(job, "enqueueAt");
  const ts = toSecond(when, "enqueueAt");
  const d: DelayedItem = { ts, queue: job.queue, item: delayedItem(job), payload: rubyJson({ class: job.payload.class, args: job.payload.args ?? [] }) };
  return enqueueAtScript(c, keys, d);
}

export function enqueueInWith(c: RedisClient, keys: Keys, seconds: number, job: DelayedJob, nowMs = Date.now()): Promise<"queued" | "delayed"> {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) throw new SettingsError(`enqueueIn: seconds must be a number, got ${String(seconds)}`);
  return enqueueAtWith(c, keys, nowMs + seconds * 1000, job);
}

/** Ruby's remove_delayed: every copy of exactly this item, at any time. */
export async function removeDelayedWith(c: RedisClient, keys: Keys, job: DelayedJob): Promise<number> {
  check(job, "removeDelayed");
  return (await removeDelayedScript(c, keys, delayedItem(job))).removed;
}

export function delayedCountWith(c: RedisClient, keys: Keys): Promise<number> {
  return delayedCountScript(c, keys);
}
