// Issue #17 point 4 at the script level: lane-cycle-6.lua's retry branch (include-retry.lua) applies a retry in
// the ack's atomic step, at most once for a resent call, not at all for a stale token, and changes nothing when a
// key it must write is unusable.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys, type Keys } from "../src/keys";
import { keepOutcomes, laneCycle, recordOutcomes, type RetryAck, type SlotOp } from "../src/scripts";
import { isolate } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
isolate((client, ns) => {
  c = client;
  k = makeKeys(ns);
});
const proc = "host:3:inst";
const J = '{"class":"R","args":[1]}';
const ITEM = '{"class":"R","args":[1],"queue":"q"}';
const TS = "4102444800"; // 2100-01-01
const base = { proc, lane: 0, runAt: "2026-11-27T10:00:00Z", failedAt: "2026/11/27 10:00:00 UTC" };
const failure = { exception: "E", error: "boom", backtrace: [] };

async function fetched(n = 1): Promise<void> {
  await c.hset(k.beats, proc, "1");
  for (let i = 0; i < n; i++) await c.rpush(k.queue("q"), J);
  const fill = Array.from({ length: n }, (_, slot) => ({ id: `w${slot}`, slot }));
  const r = await laneCycle(c, k, { ...base, call: 1, ops: [], fill, queues: ["q"] });
  expect(r.jobs).toHaveLength(n);
}
function retryAck(over: Partial<RetryAck> = {}): RetryAck {
  return { counter: `${k.ns}resque-retry:R:x`, failureKey: `${k.ns}failure-resque-retry:R:x`, mode: "delay", ts: TS, item: ITEM, queue: "q", entry: '{"e":1}', ttl: 10, expire: null, ...over };
}
const retryOp = (slot = 0, token = "1", over: Partial<RetryAck> = {}): SlotOp => ({ kind: "ack", id: `w${slot}`, slot, token, outcome: "retry", failure, queue: "q", raw: J, retry: retryAck(over) });
/** Everything in the namespace, with values, so "nothing changed" can be compared whole. */
async function snapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await c.keys(`${k.ns}*`)).sort()) out[key] = await c.send("DUMP", [key]);
  return out;
}

test("a retry ack: worker state gone, processed and failed counted, delayed item + timestamps + schedule + counter + failure key, nothing in failed", async () => {
  await fetched();
  await laneCycle(c, k, { ...base, call: 2, ops: [retryOp()], fill: [], queues: [] });
  expect(await c.exists(k.worker("w0"))).toBe(false);
  expect([await c.get(k.processed), await c.get(k.failedCount), await c.get(k.failedBy("w0"))]).toEqual(["1", "1", "1"]);
  expect(await c.llen(k.failed)).toBe(0);
  expect(await c.lrange(k.delayed(TS), 0, -1)).toEqual([ITEM]);
  expect(await c.smembers(k.timestamps(ITEM))).toEqual([`delayed:${TS}`]);
  expect(await c.send("ZRANGE", [k.delayedSchedule, "0", "-1"])).toEqual([TS]);
  expect(await c.get(`${k.ns}resque-retry:R:x`)).toBe("0");
  expect(await c.get(`${k.ns}failure-resque-retry:R:x`)).toBe('{"e":1}');
  expect(Number(await c.ttl(`${k.ns}failure-resque-retry:R:x`))).toBeGreaterThan(8);
});

test("a resent call (its reply lost) applies the retry once", async () => {
  await fetched();
  const input = { ...base, call: 2, ops: [retryOp()], fill: [], queues: [] };
  await laneCycle(c, k, input);
  await laneCycle(c, k, input);
  expect(await c.llen(k.delayed(TS))).toBe(1);
  expect(await c.get(`${k.ns}resque-retry:R:x`)).toBe("0");
  expect(await c.get(k.failedCount)).toBe("1");
});

test("an ack with another job's token (the job was handed back) writes no retry", async () => {
  await fetched();
  await laneCycle(c, k, { ...base, call: 2, ops: [retryOp(0, "99")], fill: [], queues: [] });
  expect(await c.exists(k.worker("w0"))).toBe(true);
  expect(await c.exists(k.delayedSchedule)).toBe(false);
  expect(await c.exists(`${k.ns}resque-retry:R:x`)).toBe(false);
});

test("delay 0 pushes {class,args} to the queue; done deletes the counter; giveup deletes both keys and writes the failure entry", async () => {
  await fetched(3);
  await c.set(`${k.ns}resque-retry:R:x`, "4");
  await c.set(`${k.ns}failure-resque-retry:R:x`, "old");
  await c.set(`${k.ns}resque-retry:R:y`, "1");
  const ops: SlotOp[] = [
    retryOp(0, "1", { mode: "queue", item: J, entry: "", counter: `${k.ns}resque-retry:R:z`, failureKey: `${k.ns}failure-resque-retry:R:z` }),
    { kind: "ack", id: "w1", slot: 1, token: "1", outcome: "done", retry: retryAck({ counter: `${k.ns}resque-retry:R:y`, mode: "" }) },
    { kind: "ack", id: "w2", slot: 2, token: "1", outcome: "giveup", failure: { ...failure, error: "boom (attempt 6, retry limit reached)" }, queue: "q", raw: J, retry: retryAck({ mode: "" }) },
  ];
  await laneCycle(c, k, { ...base, call: 2, ops, fill: [], queues: [] });
  expect(await c.lrange(k.queue("q"), 0, -1)).toEqual([J]);
  expect(await c.get(`${k.ns}resque-retry:R:z`)).toBe("0");
  expect(await c.exists(`${k.ns}failure-resque-retry:R:z`)).toBe(false);
  expect(await c.exists(`${k.ns}resque-retry:R:y`)).toBe(false);
  expect(await c.exists(`${k.ns}resque-retry:R:x`)).toBe(false);
  expect(await c.exists(`${k.ns}failure-resque-retry:R:x`)).toBe(false);
  const failed = (await c.lrange(k.failed, 0, -1)).map((s) => JSON.parse(s) as { error: string; worker: string });
  expect(failed.map((f) => [f.worker, f.error])).toEqual([["w2", "boom (attempt 6, retry limit reached)"]]);
  expect([await c.get(k.processed), await c.get(k.failedCount)]).toEqual(["3", "2"]);
});

test("the counter's EXPIRE is refreshed to delay + expireKeyAfter at each retry", async () => {
  await fetched();
  await laneCycle(c, k, { ...base, call: 2, ops: [retryOp(0, "1", { expire: 110 })], fill: [], queues: [] });
  const ttl = Number(await c.ttl(`${k.ns}resque-retry:R:x`));
  expect(ttl).toBeGreaterThan(105);
  expect(ttl).toBeLessThanOrEqual(110);
});

for (const [what, spoil, key] of [
  ["a bucket of the wrong type", () => c.set(k.delayed(TS), "x"), () => k.delayed(TS)],
  ["a timestamps key of the wrong type", () => c.set(k.timestamps(ITEM), "x"), () => k.timestamps(ITEM)],
  ["a schedule of the wrong type", () => c.set(k.delayedSchedule, "x"), () => k.delayedSchedule],
  ["a counter that is not an integer", () => c.set(`${k.ns}resque-retry:R:x`, "abc"), () => `${k.ns}resque-retry:R:x`],
  ["a counter of the wrong type", () => c.hset(`${k.ns}resque-retry:R:x`, "f", "1"), () => `${k.ns}resque-retry:R:x`],
] as const) {
  test(`${what}: BADKEY naming it, and the call changes nothing`, async () => {
    await fetched();
    await spoil();
    const before = await snapshot();
    const err = await laneCycle(c, k, { ...base, call: 2, ops: [retryOp()], fill: [], queues: [] }).then(() => null, (e: Error) => e);
    expect(err?.name).toBe("BadKeyError");
    expect(err?.message).toContain(key());
    expect(await snapshot()).toEqual(before);
  });
}

test("a worker stopped by a bad key keeps a retry ack's outcome as a plain failure (nothing lost), and a done ack as ok", async () => {
  await fetched(2);
  const ops: SlotOp[] = [retryOp(0), { kind: "ack", id: "w1", slot: 1, token: "1", outcome: "done", retry: retryAck({ mode: "" }) }];
  expect(await keepOutcomes(c, k, { proc, failedAt: "2026/11/27 10:00:01 UTC", ops })).toBe(2);
  expect(await c.exists(k.worker("w0"))).toBe(false);
  expect(await recordOutcomes(c, k)).toEqual({ processed: 2, failed: 1 });
  const [entry] = (await c.lrange(k.failed, 0, -1)).map((e) => JSON.parse(e) as { payload: unknown; error: string });
  expect(entry).toMatchObject({ payload: { class: "R", args: [1] }, error: "boom" });
  expect(await c.exists(k.delayedSchedule)).toBe(false);
});
