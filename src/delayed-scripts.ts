// The delayed-job scripts (resque-scheduler's keys, reference sections 1 and 6) and one typed function per
// script, as scripts.ts does for the fetch loop's: only this module knows each script's KEYS/ARGV order.
import type { RedisClient } from "bun";
import type { Keys } from "./keys";
import includeRecord from "./lua/include-record.lua" with { type: "text" };
import enqueueAtLua from "./lua/enqueue-at-5.lua" with { type: "text" };
import removeDelayedLua from "./lua/remove-delayed-2.lua" with { type: "text" };
import delayedCountLua from "./lua/delayed-count-1.lua" with { type: "text" };
import promoteLua from "./lua/promote-4.lua" with { type: "text" };
import releaseLockLua from "./lua/release-lock-1.lua" with { type: "text" };
import fireScheduleLua from "./lua/fire-schedule-5.lua" with { type: "text" };
import { runScript, script } from "./scripts";

export const delayedScripts = {
  enqueueAt: script("enqueue-at", enqueueAtLua, 5, includeRecord),
  removeDelayed: script("remove-delayed", removeDelayedLua, 2, includeRecord),
  delayedCount: script("delayed-count", delayedCountLua, 1, includeRecord),
  promote: script("promote", promoteLua, 4, includeRecord),
  releaseLock: script("release-lock", releaseLockLua, 1),
  fireSchedule: script("fire-schedule", fireScheduleLua, 5, includeRecord),
} as const;

export interface DelayedItem {
  /** Unix second, as an integer string (the bucket suffix and the schedule member). */
  ts: string;
  queue: string;
  /** {"class","args","queue"}: the bucket item and the timestamps key's suffix. */
  item: string;
  /** {"class","args"}: what goes to the queue if the time is already due. */
  payload: string;
}

/** "queued": the time was already due (Redis clock), so it went straight to its queue, as Ruby's enqueue_at does. */
export async function enqueueAtScript(c: RedisClient, keys: Keys, d: DelayedItem): Promise<"queued" | "delayed"> {
  return runScript(c, delayedScripts.enqueueAt, [keys.delayed(d.ts), keys.timestamps(d.item), keys.delayedSchedule, keys.queues, keys.queue(d.queue)],
    [d.ts, d.item, d.queue, d.payload]);
}

export async function removeDelayedScript(c: RedisClient, keys: Keys, item: string): Promise<{ removed: number; skipped: number }> {
  const [removed, skipped] = await runScript<[number, number]>(c, delayedScripts.removeDelayed, [keys.timestamps(item), keys.delayedSchedule], [item, keys.ns]);
  return { removed, skipped };
}

export function delayedCountScript(c: RedisClient, keys: Keys): Promise<number> {
  return runScript<number>(c, delayedScripts.delayedCount, [keys.delayedSchedule], [keys.delayedPrefix]);
}

export interface PromoteInput {
  lockValue: string;
  /** A dead holder's lock value to take over at once (our predecessor on this host), or "". */
  takeOver: string;
  lockTtlMs: number;
  batch: number;
  failedAt: string;
  worker: string;
  /** The promoter's clock, epoch ms: seconds up to this one are due. */
  nowMs: number;
  /** Schedule members reported bad before: skipped. */
  skip: readonly string[];
}

export interface PromoteResult {
  master: boolean;
  /** The lock's holder (ours when master). */
  holder: string;
  /** The clock the call used (the promoter's), in ms. */
  nowMs: number;
  moved: number;
  failed: number;
  /** More items are due now: call again at once. */
  more: boolean;
  /** The next due second after now, or null when nothing else is scheduled. */
  next: number | null;
  /** A schedule member that cannot be promoted, and why. */
  bad: { member: string; why: string } | null;
}

export async function promoteScript(c: RedisClient, keys: Keys, input: PromoteInput): Promise<PromoteResult> {
  const r = await runScript<(string | number)[]>(c, delayedScripts.promote, [keys.delayedSchedule, keys.schedulerLock, keys.queues, keys.failed],
    [input.lockValue, input.takeOver, input.lockTtlMs, keys.ns, input.batch, input.failedAt, input.worker, input.nowMs, ...input.skip]);
  const next = String(r[6] ?? "");
  const member = String(r[7] ?? "");
  return {
    master: Number(r[0]) === 1,
    holder: r[1] === null || r[1] === undefined ? "" : String(r[1]),
    nowMs: Number(r[2]),
    moved: Number(r[3]),
    failed: Number(r[4]),
    more: Number(r[5]) === 1,
    next: next === "" ? null : Number(next),
    bad: member === "" ? null : { member, why: String(r[8]) },
  };
}

export async function releaseLockScript(c: RedisClient, keys: Keys, lockValue: string): Promise<boolean> {
  return Number(await runScript(c, delayedScripts.releaseLock, [keys.schedulerLock], [lockValue])) === 1;
}

export interface FireInput {
  lockValue: string;
  name: string;
  tickMs: number;
  queue: string;
  payload: string;
  /** Ruby's Time#to_s of now, for delayed:last_enqueued_at. */
  at: string;
}

/** "enqueued"; "not-master" (nothing written); "done" (this tick was enqueued before, by us or another master). */
export async function fireScheduleScript(c: RedisClient, keys: Keys, f: FireInput): Promise<"enqueued" | "not-master" | "done"> {
  const r = Number(await runScript(c, delayedScripts.fireSchedule, [keys.schedulerLock, keys.scheduleTicks, keys.lastEnqueuedAt, keys.queues, keys.queue(f.queue)],
    [f.lockValue, f.name, f.tickMs, f.queue, f.payload, f.at]));
  return r === 1 ? "enqueued" : r === 0 ? "not-master" : "done";
}
