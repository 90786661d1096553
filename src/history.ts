// Processed and failed jobs per minute over the last hour, for the dashboard's charts (#18). Workers record
// the global counters once a minute of their clock with a heartbeat (history-3.lua, one script call); the
// dashboard records them too while it runs, and charts the differences. Survives a dashboard restart: it lives
// in Redis, bounded to about 80 minutes (trimmed to 65 in every tenth minute).
import type { RedisClient } from "bun";
import type { Keys } from "./keys";
import historyLua from "./lua/history-3.lua" with { type: "text" };
import { runScript, script } from "./scripts";

const historyScript = script("history", historyLua, 3);

/** Records this minute's counters unless some process did already; `trimNow`: also drop minutes beyond the bound. */
export function recordMinute(c: RedisClient, keys: Keys, trimNow = false): Promise<number> {
  return runScript<number>(c, historyScript, [keys.history, keys.processed, keys.failedCount], [trimNow ? "1" : "0"]);
}

export interface MinutePoint {
  /** Start of the minute, ms since the epoch. */
  at: number;
  processed: number;
  failed: number;
}

/**
 * Per-minute rates for the `minutes` minutes before `nowMs`: the difference between consecutive recorded
 * snapshots, spread evenly over the minutes between them (a minute nobody recorded gets its share); minutes
 * before the first snapshot are 0. A counter reset (someone deleted stat:processed) counts as 0, not negative.
 */
export function perMinute(snapshots: Record<string, string>, nowMs: number, minutes = 60): MinutePoint[] {
  const snaps = Object.entries(snapshots)
    .map(([m, v]) => {
      const [p, f] = v.split("|");
      return { m: Number(m), p: Number(p), f: Number(f) };
    })
    .filter((s) => Number.isFinite(s.m) && Number.isFinite(s.p) && Number.isFinite(s.f))
    .sort((a, b) => a.m - b.m);
  const nowMin = Math.floor(nowMs / 60000);
  const out: MinutePoint[] = [];
  for (let m = nowMin - minutes; m < nowMin; m++) out.push({ at: m * 60000, processed: 0, failed: 0 });
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1] as (typeof snaps)[number];
    const b = snaps[i] as (typeof snaps)[number];
    const span = b.m - a.m;
    const dp = Math.max(0, b.p - a.p) / span;
    const df = Math.max(0, b.f - a.f) / span;
    for (let m = a.m; m < b.m; m++) {
      const slot = out[m - (nowMin - minutes)];
      if (!slot) continue;
      slot.processed += dp;
      slot.failed += df;
    }
  }
  return out;
}

export async function readHistory(c: RedisClient, keys: Keys, nowMs: number): Promise<MinutePoint[]> {
  const raw = (await c.send("HGETALL", [keys.history])) as Record<string, string> | string[];
  const obj = Array.isArray(raw) ? Object.fromEntries(raw.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1] as string]]))) : raw;
  return perMinute(obj, nowMs);
}
