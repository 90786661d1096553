// Issue #14: the two scripts the beat thread runs (it sends their source with EVAL; pulse.ts hands it over),
// tested on their own: beat-2.lua stamps only a registered process and changes nothing when a key is unusable;
// fail-running-6.lua turns one slot's job into Resque's failure record all or nothing.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys, type Keys } from "../src/keys";
import { runScript, scripts } from "../src/scripts";
import { isolate } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
isolate((client, ns) => {
  c = client;
  k = makeKeys(ns);
});

const proc = "host:1:inst";
const ids = ["host:1:q:0.inst", "host:1:q:1.inst"];
const beat = () => runScript<number>(c, scripts.beat, [k.beats, k.heartbeats], [proc, "1|5|pid:[1]|boot|3000", "2026-12-02T10:00:00+00:00", ...ids]);

describe("beat-2.lua", () => {
  test("stamps a registered process's beat (Redis clock, identity, validity) and its slots' Resque heartbeats", async () => {
    await c.hset(k.beats, proc, "1|5|pid:[1]|boot|3000");
    expect(await beat()).toBe(1);
    const value = (await c.hget(k.beats, proc)) as string;
    expect(Number(value.split("|")[0])).toBeGreaterThan(1_700_000_000_000);
    expect(value.split("|").slice(1)).toEqual(["1", "5", "pid:[1]", "boot", "3000"]);
    expect(await c.hgetall(k.heartbeats)).toEqual({ [ids[0] as string]: "2026-12-02T10:00:00+00:00", [ids[1] as string]: "2026-12-02T10:00:00+00:00" });
  });

  test("a process that is not registered (released while it was frozen) is not stamped: its main thread registers it again", async () => {
    expect(await beat()).toBe(0);
    expect(await c.exists(k.beats)).toBe(false);
    expect(await c.exists(k.heartbeats)).toBe(false);
  });

  test("workers:heartbeat of another type: nothing written", async () => {
    await c.hset(k.beats, proc, "7|5|pid:[1]|boot|3000");
    await c.set(k.heartbeats, "x");
    expect(await beat()).toBe(0);
    expect(await c.hget(k.beats, proc)).toBe("7|5|pid:[1]|boot|3000");
  });
});

describe("fail-running-6.lua", () => {
  const id = ids[0] as string;
  const state = '{"queue":"q","run_at":"2026-12-02T10:00:00Z","payload":{"class":"SpinNow","args":[1]}}';
  const fail = () =>
    runScript<string[]>(c, scripts.failRunning, [k.worker(id), k.failed, k.processed, k.failedCount, k.processedBy(id), k.failedBy(id)],
      [id, "2026/12/02 10:00:01 UTC", '"JobTimeoutError"', "job %s blocked the event loop"]);

  test("the slot's job becomes a failure entry with Resque's counters, and its state is cleared, in one step", async () => {
    await c.set(k.worker(id), state);
    await c.set(k.processed, "41");
    expect(await fail()).toEqual(["q", "SpinNow"]);
    expect(await c.lrange(k.failed, 0, -1)).toEqual([
      '{"failed_at":"2026/12/02 10:00:01 UTC","payload":{"class":"SpinNow","args":[1]},"exception":"JobTimeoutError","error":"job SpinNow blocked the event loop","backtrace":[],"worker":"host:1:q:0.inst","queue":"q"}',
    ]);
    expect([await c.get(k.processed), await c.get(k.failedCount), await c.get(k.processedBy(id)), await c.get(k.failedBy(id))]).toEqual(["42", "1", "1", "1"]);
    expect(await c.exists(k.worker(id))).toBe(false);
  });

  test("an empty slot: nothing to fail, nothing written", async () => {
    expect(await fail()).toEqual([]);
    expect(await c.exists(k.failed)).toBe(false);
    expect(await c.exists(k.processed)).toBe(false);
  });

  test.each([
    ["failed is a hash", async () => void (await c.hset(k.failed, "f", "v"))],
    ["stat:processed is not an integer", async () => void (await c.set(k.processed, "abc"))],
    ["stat:failed is a list", async () => void (await c.rpush(k.failedCount, "x"))],
  ])("%s: nothing written, the job stays in its state for release", async (_name, spoil) => {
    await c.set(k.worker(id), state);
    await spoil();
    expect(await fail()).toEqual([]);
    expect(await c.get(k.worker(id))).toBe(state);
    expect(await c.exists(k.processedBy(id))).toBe(false);
    expect(await c.exists(k.failedBy(id))).toBe(false);
  });
});
