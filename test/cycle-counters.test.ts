// Resque's per-worker counters as the fetch script keeps them (issue #15): stat:processed:<id> and
// stat:failed:<id> are added to in the script and written with its one MSET in the common case, and by INCRBY
// for a carry, a negative or a long value. Whatever the path, each acknowledged job adds exactly one, and the
// shared counters too.
import { beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import type { Keys } from "../src/keys";
import { laneCycle, type SlotOp } from "../src/scripts";
import { isolateKeys } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
isolateKeys((t) => ({ c, keys: k } = t));
const proc = "host:1";
const J = '{"class":"A","args":[]}';
let call = 0;

beforeEach(async () => {
  call = 0;
  await c.hset(k.beats, proc, "1");
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `w:${i}`);

/** Fills every slot of `workers`, then acknowledges each with `outcome`: one call for the fill, one for the acks. */
async function runOnce(workers: string[], outcome: "ok" | "fail" = "ok"): Promise<void> {
  await c.send("RPUSH", [k.queue("q"), ...workers.map(() => J)]);
  const input = { proc, lane: 0, runAt: "2026-11-27T10:00:00Z", failedAt: "2026/11/27 10:00:00 UTC", queues: ["q"] };
  const fill = workers.map((id, slot) => ({ id, slot }));
  const fetched = await laneCycle(c, k, { ...input, call: ++call, ops: [], fill });
  expect(fetched.jobs.length).toBe(workers.length);
  const token = String(call);
  const ops: SlotOp[] = workers.map((id, slot) =>
    outcome === "ok" ? { kind: "ack", id, slot, token, outcome } : { kind: "ack", id, slot, token, outcome, failure: { exception: "E", error: "m", backtrace: [] }, queue: "q", raw: J });
  await laneCycle(c, k, { ...input, call: ++call, ops, fill: [] });
}

describe("per-worker counters in lane-cycle-6.lua", () => {
  test("every starting value gains exactly one per job, on the MSET path and the INCRBY path alike", async () => {
    const start: (string | null)[] = [null, "0", "8", "9", "19", "99", "-1", "-10", "1234567899", "999999999999999999", "4503599627370495"];
    const workers = ids(start.length);
    for (const [i, v] of start.entries()) if (v !== null) await c.set(`${k.processedPrefix}${workers[i]}`, v);
    await runOnce(workers);
    const after = await Promise.all(workers.map((id) => c.get(`${k.processedPrefix}${id}`)));
    expect(after).toEqual(["1", "1", "9", "10", "20", "100", "0", "-9", "1234567900", "1000000000000000000", "4503599627370496"]);
    expect(await c.get(k.processed)).toBe(String(start.length));
  });

  test("a hundred rounds on the same slots count a hundred each (carries every tenth)", async () => {
    const workers = ids(3);
    for (let round = 0; round < 100; round++) await runOnce(workers);
    for (const id of workers) expect(await c.get(`${k.processedPrefix}${id}`)).toBe("100");
    expect(await c.get(k.processed)).toBe("300");
  });

  test("failed jobs count in stat:failed:<id> the same way", async () => {
    const workers = ids(3);
    await c.set(`${k.failedPrefix}${workers[1]}`, "9");
    await c.set(`${k.failedPrefix}${workers[2]}`, "41");
    await runOnce(workers, "fail");
    expect(await Promise.all(workers.map((id) => c.get(`${k.failedPrefix}${id}`)))).toEqual(["1", "10", "42"]);
    expect(await Promise.all(workers.map((id) => c.get(`${k.processedPrefix}${id}`)))).toEqual(["1", "1", "1"]);
    expect(await c.get(k.failedCount)).toBe("3");
    expect(await c.llen(k.failed)).toBe(3);
  });
});
