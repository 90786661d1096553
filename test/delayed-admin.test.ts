// The operator's delayed-job scripts (#18, src/delayed-admin.ts) against real Redis: each changes nothing when
// a key it must use has the wrong type, a second's removal stopped between batches leaves a consistent
// second that promotion finishes exactly, and "enqueue now" of one copy keeps the index of the other.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { adminScripts, enqueueJobNow, removeJobAt } from "../src/delayed-admin";
import { delayedItem, enqueueAtWith } from "../src/delayed";
import { promoteScript } from "../src/delayed-scripts";
import type { Keys } from "../src/keys";
import { runScript } from "../src/scripts";
import { isolateKeys, REDIS_URL } from "./helpers/redis";
import { MAIN_WORKER } from "./helpers/worker-process";

let c: RedisClient;
let keys: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys } = t));

const later = () => Math.floor(Date.now() / 1000) + 3600;
const job = (cls: string, args: unknown[] = []) => ({ queue: "q", payload: { class: cls, args } });
const promote = () => promoteScript(c, keys, { lockValue: "h:1:x", takeOver: "", lockTtlMs: 5000, batch: 1000, failedAt: "x", worker: "w", nowMs: Date.now(), skip: [] });
const snapshot = async (ts: number, item: string) => [await c.lrange(keys.delayed(String(ts)), 0, -1), await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1", "WITHSCORES"]), await c.send("TYPE", [keys.timestamps(item)])];

test("a wrong-typed timestamps set, or current second's bucket, is refused (a BadKey error) and changes nothing", async () => {
  const ts = later();
  await enqueueAtWith(c, keys, ts * 1000, job("A"));
  const item = delayedItem(job("A"));
  const before = await snapshot(ts, item);
  const idx = keys.timestamps(item);
  await c.del(idx);
  await c.set(idx, "not a set");
  await expect(enqueueJobNow(c, keys, String(ts), item)).rejects.toThrow(/timestamps:.* holds a string, not a set: fix or delete it/);
  await expect(removeJobAt(c, keys, String(ts), item)).rejects.toThrow(/holds a string, not a set/);
  await c.del(idx);
  await c.sadd(idx, `delayed:${ts}`);
  expect(await snapshot(ts, item)).toEqual(before);
  // Every second the call could land in: its bucket is a string.
  const now = Math.floor(Date.now() / 1000);
  for (let s = now - 1; s <= now + 3; s++) await c.set(keys.delayed(String(s)), "x");
  await expect(enqueueJobNow(c, keys, String(ts), item)).rejects.toThrow(/delayed:\d+ holds a string, not a list/);
  expect(await snapshot(ts, item)).toEqual(before);
  expect(await c.smembers(idx)).toEqual([`delayed:${ts}`]);
});

test("removing a second stopped after its first batch leaves it consistent, and promotion moves the rest once", async () => {
  const ts = Math.floor(Date.now() / 1000) - 5;
  for (let i = 0; i < 2500; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => c.send("EVAL", ["redis.call('RPUSH', KEYS[1], ARGV[1]); redis.call('SADD', KEYS[2], ARGV[2]); redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])", "3", keys.delayed(String(ts)), keys.timestamps(delayedItem(job("J", [i + j]))), keys.delayedSchedule, delayedItem(job("J", [i + j])), `delayed:${ts}`, String(ts)])));
  const [removed, more] = await runScript<[number, number]>(c, adminScripts.delayedClear, [keys.delayed(String(ts)), keys.delayedSchedule], [String(ts), keys.ns, 1000]);
  expect([removed, more]).toEqual([1000, 1]);
  // The process doing it dies here: the first 1000 are gone with their index, the rest intact and scheduled.
  expect(await c.send("EXISTS", [keys.timestamps(delayedItem(job("J", [999])))])).toBe(0);
  expect(await c.smembers(keys.timestamps(delayedItem(job("J", [1000]))))).toEqual([`delayed:${ts}`]);
  expect(await c.send("ZSCORE", [keys.delayedSchedule, String(ts)])).toBe(ts);
  let moved = 0;
  for (let i = 0; i < 5; i++) moved += (await promote()).moved;
  expect(moved).toBe(1500);
  const queued = await c.lrange(keys.queue("q"), 0, -1);
  expect(new Set(queued).size).toBe(1500);
  expect(queued[0]).toBe('{"class":"J","args":[1000]}');
  expect(await c.send("EXISTS", [keys.delayedSchedule])).toBe(0);
});

test("enqueue now of one of two identical copies moves one; the other keeps its second and its index member", async () => {
  const ts = later();
  const twin = job("Twin", [1]);
  await enqueueAtWith(c, keys, ts * 1000, twin);
  await enqueueAtWith(c, keys, ts * 1000, twin);
  const item = delayedItem(twin);
  expect(await enqueueJobNow(c, keys, String(ts), item)).toBe(1);
  expect(await c.lrange(keys.delayed(String(ts)), 0, -1)).toEqual([item]);
  const members = (await c.smembers(keys.timestamps(item))).sort();
  expect(members).toHaveLength(2);
  expect(members).toContain(`delayed:${ts}`);
  expect((await promote()).moved).toBe(1);
  expect(await c.smembers(keys.timestamps(item))).toEqual([`delayed:${ts}`]);
  expect(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1"])).toEqual([String(ts)]);
  // A job whose second is already due: only that second's score changes (to 0), nothing moves.
  const past = Math.floor(Date.now() / 1000) - 30;
  await c.send("RPUSH", [keys.delayed(String(past)), item]);
  await c.send("ZADD", [keys.delayedSchedule, String(past), String(past)]);
  expect(await enqueueJobNow(c, keys, String(past), item)).toBe(1);
  expect(await c.send("ZSCORE", [keys.delayedSchedule, String(past)])).toBe(0);
  expect(await c.lrange(keys.delayed(String(past)), 0, -1)).toEqual([item]);
  expect(await enqueueJobNow(c, keys, String(ts + 1), item)).toBe(0);
});

test("`delayed remove --at` and `delayed enqueue-now SECOND --class` run the same scripts from the command line", async () => {
  const run = async (...argv: string[]) => {
    const p = Bun.spawn([process.execPath, MAIN_WORKER, "delayed", ...argv, `--uri=${REDIS_URL}`, `--namespace=${ns}`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { out, err, code };
  };
  const ts = later();
  const r = job("R", [7]);
  await enqueueAtWith(c, keys, ts * 1000, r);
  await enqueueAtWith(c, keys, (ts + 60) * 1000, r);
  await enqueueAtWith(c, keys, (ts + 60) * 1000, job("Other"));
  expect(await run("remove", "--class=R", "--queue=q", "--args=[7]", `--at=${ts}`)).toEqual({ out: "removed 1\n", err: "", code: 0 });
  expect(await c.smembers(keys.timestamps(delayedItem(r)))).toEqual([`delayed:${ts + 60}`]);
  const now = await run("enqueue-now", String(ts + 60), "--class=R", "--queue=q", "--args=[7]");
  expect(now.code).toBe(0);
  expect(await c.lrange(keys.delayed(String(ts + 60)), 0, -1)).toEqual([delayedItem(job("Other"))]);
  expect((await promote()).moved).toBe(1);
  expect(await c.lrange(keys.queue("q"), 0, -1)).toEqual(['{"class":"R","args":[7]}']);
  expect(await run("enqueue-now", String(ts + 60), "--class=R", "--queue=q", "--args=[7]")).toEqual({ out: "", err: `bunworker delayed: enqueue-now: no such job at second ${ts + 60}\n`, code: 1 });
});
