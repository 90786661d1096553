// Resque's failed list (reference section 4) for operators: page through it with filters, and requeue or
// remove entries exactly as Resque::Failure.requeue / remove do, safely while workers append and other tools
// remove (failed-requeue-2.lua, failed-remove-1.lua find each entry by its bytes, not by a trusted index).
import type { RedisClient } from "bun";
import type { Keys } from "./keys";
import failedClearLua from "./lua/failed-clear-1.lua" with { type: "text" };
import failedRemoveLua from "./lua/failed-remove-1.lua" with { type: "text" };
import failedRequeueLua from "./lua/failed-requeue-2.lua" with { type: "text" };
import { compactJson, rawMember, rawMembers, setRawMember } from "./raw-json";
import { failedAt } from "./resque-time";
import { runScript, script } from "./scripts";

const requeueScript = script("failed-requeue", failedRequeueLua, 2);
const removeScript = script("failed-remove", failedRemoveLua, 1);
const clearScript = script("failed-clear", failedClearLua, 1);

/** An entry as read: its position when read (0 = oldest) and its bytes. */
export interface RawEntry {
  index: number;
  raw: string;
}

export interface FailedEntry extends RawEntry {
  failedAt: string;
  queue: string;
  class: string;
  exception: string;
  error: string;
  backtrace: string[];
  worker: string;
  retriedAt: string | null;
  /** The payload's args, as JSON text. */
  args: string;
}

export interface FailedFilter {
  queue?: string;
  class?: string;
  exception?: string;
}

const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));

/** One entry as shown; an entry that is not a JSON object (hand-written, corrupted) is kept and shown raw. */
export function decodeEntry(index: number, raw: string): FailedEntry {
  let e: Record<string, unknown> = {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) e = v as Record<string, unknown>;
  } catch {
    // shown with empty fields and its raw bytes
  }
  const payload = (e.payload && typeof e.payload === "object" ? e.payload : {}) as Record<string, unknown>;
  let args = "[]";
  try {
    const p = rawMember(raw, "payload");
    args = (p && p.startsWith("{") && rawMember(p, "args")) || "[]";
  } catch {
    args = str(payload.args);
  }
  return {
    index,
    raw,
    failedAt: str(e.failed_at),
    queue: str(e.queue),
    class: str(payload.class),
    exception: str(e.exception),
    error: str(e.error),
    backtrace: Array.isArray(e.backtrace) ? e.backtrace.map(str) : [],
    worker: str(e.worker),
    retriedAt: typeof e.retried_at === "string" ? e.retried_at : null,
    args,
  };
}

// Names made only of these characters are written the same way by every JSON encoder (Ruby, Go, JS), so an
// entry whose bytes do not contain the quoted name cannot match: most entries are skipped without a parse.
const PLAIN = /^[A-Za-z0-9_:.\-]+$/;

/** A test of an entry's bytes against the filter: exact (field equality), with a substring pre-check. */
export function matcher(f: FailedFilter): (raw: string) => boolean {
  const wanted = (["queue", "class", "exception"] as const).filter((k) => f[k] !== undefined);
  if (!wanted.length) return () => true;
  const needles = wanted.map((k) => f[k] as string).filter((v) => PLAIN.test(v)).map((v) => JSON.stringify(v));
  return (raw) => {
    for (const n of needles) if (!raw.includes(n)) return false;
    let e: { queue?: unknown; exception?: unknown; payload?: { class?: unknown } };
    try {
      e = JSON.parse(raw) as typeof e;
    } catch {
      return false;
    }
    if (!e || typeof e !== "object") return false;
    return (f.queue === undefined || e.queue === f.queue) && (f.class === undefined || e.payload?.class === f.class) && (f.exception === undefined || e.exception === f.exception);
  };
}

export const hasFilter = (f: FailedFilter): boolean => f.queue !== undefined || f.class !== undefined || f.exception !== undefined;

export const failedCount = (c: RedisClient, keys: Keys): Promise<number> => c.send("LLEN", [keys.failed]) as Promise<number>;

const CHUNK = 1000;

/**
 * Entries in [from, to) of the failed list, CHUNK per LRANGE, oldest first or newest first. Entries appended
 * meanwhile are not visited; an entry removed meanwhile may shift one chunk's window by one, which the scripts
 * absorb since they find entries by their bytes.
 */
export async function* scanFailed(c: RedisClient, keys: Keys, opts: { newestFirst?: boolean; from?: number; to?: number } = {}): AsyncGenerator<RawEntry[]> {
  const total = opts.to ?? (await failedCount(c, keys));
  const from = opts.from ?? 0;
  if (opts.newestFirst) {
    for (let end = total; end > from; end -= CHUNK) {
      const start = Math.max(from, end - CHUNK);
      const raws = (await c.send("LRANGE", [keys.failed, String(start), String(end - 1)])) as string[];
      yield raws.map((raw, i) => ({ index: start + i, raw })).reverse();
    }
  } else {
    for (let start = from; start < total; start += CHUNK) {
      const end = Math.min(total, start + CHUNK);
      const raws = (await c.send("LRANGE", [keys.failed, String(start), String(end - 1)])) as string[];
      yield raws.map((raw, i) => ({ index: start + i, raw }));
    }
  }
}

export interface FailedPage {
  total: number;
  /** Entries matching the filter (all entries when there is none). */
  matching: number;
  entries: FailedEntry[];
}

/** A page of entries, newest first (as resque-web shows them). Unfiltered: one LRANGE; filtered: a scan. */
export async function failedPage(c: RedisClient, keys: Keys, filter: FailedFilter, offset: number, limit: number): Promise<FailedPage> {
  const total = await failedCount(c, keys);
  if (!hasFilter(filter)) {
    const end = total - 1 - offset;
    const start = Math.max(0, end - limit + 1);
    if (end < 0) return { total, matching: total, entries: [] };
    const raws = (await c.send("LRANGE", [keys.failed, String(start), String(end)])) as string[];
    return { total, matching: total, entries: raws.map((r, i) => decodeEntry(start + i, r)).reverse() };
  }
  const entries: FailedEntry[] = [];
  const test = matcher(filter);
  let matching = 0;
  for await (const chunk of scanFailed(c, keys, { newestFirst: true, to: total })) {
    for (const e of chunk) {
      if (!test(e.raw)) continue;
      if (matching >= offset && entries.length < limit) entries.push(decodeEntry(e.index, e.raw));
      matching++;
    }
  }
  return { total, matching, entries };
}

/** The entry at `index`, or null. */
export async function failedAtIndex(c: RedisClient, keys: Keys, index: number): Promise<FailedEntry | null> {
  const raw = (await c.send("LINDEX", [keys.failed, String(index)])) as string | null;
  return raw === null ? null : decodeEntry(index, raw);
}

/**
 * What Failure.requeue writes for one entry: the entry with retried_at set (appended, or replaced in place
 * when it was retried before), and Job.create's payload {"class","args"} (extra payload keys dropped, missing
 * args = []), with the class and args bytes copied as they are.
 */
export function requeueWrites(raw: string, now: Date): { entry: string; queue: string; job: string } {
  const members = rawMembers(raw);
  const payload = members.find((m) => m.key === "payload")?.raw;
  const queueRaw = members.find((m) => m.key === "queue")?.raw;
  if (!payload?.startsWith("{") || !queueRaw?.startsWith('"')) throw new SyntaxError("the entry has no payload object or no queue");
  const p = rawMembers(payload);
  const cls = p.find((m) => m.key === "class")?.raw ?? "null";
  const argsRaw = p.find((m) => m.key === "args")?.raw;
  // Ruby's splat: nil -> no args, an array -> its elements, anything else -> one argument.
  const args = argsRaw === undefined || argsRaw === "null" ? "[]" : argsRaw.startsWith("[") ? compactJson(argsRaw) : `[${compactJson(argsRaw)}]`;
  return { entry: setRawMember(raw, "retried_at", JSON.stringify(failedAt(now))), queue: JSON.parse(queueRaw) as string, job: `{"class":${cls},"args":${args}}` };
}

export interface BulkResult {
  /** Entries requeued or removed. */
  done: number;
  /** Entries that were gone (removed by someone else) when their turn came. */
  missing: number;
  /** Entries that cannot be requeued (no payload object or queue); left in place. */
  unreadable: number;
}

const BATCH = 200;

type Progress = (done: number, total: number) => void;

/** Requeue these entries (Failure.requeue each) in the order given, BATCH per script call. */
export async function requeueEntries(c: RedisClient, keys: Keys, entries: readonly RawEntry[], now: Date, progress?: Progress): Promise<BulkResult> {
  const r: BulkResult = { done: 0, missing: 0, unreadable: 0 };
  let shift = 0;
  for (let i = 0; i < entries.length; i += BATCH) {
    const args: string[] = [keys.queuePrefix, String(shift)];
    for (const e of entries.slice(i, i + BATCH)) {
      try {
        const w = requeueWrites(e.raw, now);
        args.push(String(e.index), e.raw, w.entry, w.queue, w.job);
      } catch {
        r.unreadable++;
      }
    }
    if (args.length > 2) {
      const [done, missing, moved] = await runScript<[number, number, number]>(c, requeueScript, [keys.failed, keys.queues], args);
      r.done += done;
      r.missing += missing;
      shift = moved;
    }
    progress?.(Math.min(entries.length, i + BATCH), entries.length);
  }
  return r;
}

/** Remove these entries (Failure.remove each), highest index first, BATCH per script call. */
export async function removeEntries(c: RedisClient, keys: Keys, entries: readonly RawEntry[], progress?: Progress): Promise<BulkResult> {
  const r: BulkResult = { done: 0, missing: 0, unreadable: 0 };
  const sorted = [...entries].sort((a, b) => b.index - a.index);
  let shift = 0;
  for (let i = 0; i < sorted.length; i += BATCH) {
    const args = [String(shift), ...sorted.slice(i, i + BATCH).flatMap((e) => [String(e.index), e.raw])];
    const [done, missing, moved] = await runScript<[number, number, number]>(c, removeScript, [keys.failed], args);
    r.done += done;
    r.missing += missing;
    shift = moved;
    progress?.(Math.min(sorted.length, i + BATCH), sorted.length);
  }
  return r;
}

/** Every entry matching the filter, read newest chunk first (see bulkFailed), oldest first in the result. */
export async function matchingEntries(c: RedisClient, keys: Keys, filter: FailedFilter, progress?: Progress): Promise<RawEntry[]> {
  const total = await failedCount(c, keys);
  const picked: RawEntry[] = [];
  const test = matcher(filter);
  let seen = 0;
  for await (const chunk of scanFailed(c, keys, { newestFirst: true, to: total })) {
    for (const e of chunk) if (test(e.raw)) picked.push(e);
    seen += chunk.length;
    progress?.(seen, total);
  }
  return picked.reverse();
}

/**
 * Requeue or remove every entry matching the filter. First a read-only pass over the list, newest chunk first:
 * another process's removal can only move entries not yet read down into the next chunk, so none is missed
 * (one may be read twice; the second turn finds it changed or gone and counts it as gone). Then requeues go
 * oldest first (Resque's requeue_all order) and removals newest first, each entry found by its bytes.
 * Entries appended after the start are left alone.
 */
export async function bulkFailed(c: RedisClient, keys: Keys, op: "requeue" | "remove", filter: FailedFilter, now: Date, progress?: { reading?: Progress; writing?: Progress }): Promise<BulkResult> {
  const picked = await matchingEntries(c, keys, filter, progress?.reading);
  return op === "requeue" ? requeueEntries(c, keys, picked, now, progress?.writing) : removeEntries(c, keys, picked, progress?.writing);
}

/** Failure.clear: DEL failed; returns how many entries it held. */
export async function clearFailed(c: RedisClient, keys: Keys): Promise<number> {
  return runScript<number>(c, clearScript, [keys.failed], []);
}
