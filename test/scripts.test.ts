// The Lua scripts on their own (STYLE: test each script directly): the at-most-once application of a resent
// call that the fetch loop relies on when a reply is lost, and the hand-back order of release.
import { beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import type { Keys } from "../src/keys";
import { laneCycle, releaseProcess, type CycleResult, type SlotOp } from "../src/scripts";
import { isolateKeys } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
isolateKeys((t) => ({ c, keys: k } = t));
const proc = "host:1";

type Reply = (string | number)[];
let call = 0;
beforeEach(async () => {
  call = 0;
  tokens.clear();
  await c.hset(k.beats, proc, "1"); // registered: a lane fetches only for a registered process
});
/** The script's reply as it travels: paused, n, then slot (1-based), queue, flag, raw per job. */
const flat = (r: CycleResult): Reply => [r.paused === "pause-all-workers" ? 1 : r.paused ? 2 : 0, r.jobs.length, ...r.jobs.flatMap((j) => [j.slot + 1, j.queue, j.notUtf8 ? "u" : "", j.raw])];
/** The token of the job each slot got last: the call number of the fetch, as the lane keeps it. */
const tokens = new Map<string, string>();
/** One cycle call; `again` resends the previous call number, as the lane does after a lost reply. */
async function cycle(ops: SlotOp[], fetch: string[], queues: string[], again = false): Promise<Reply> {
  if (!again) call++;
  const fill = fetch.map((id) => ({ id, slot: slotOf(id) }));
  const r = await laneCycle(c, k, { proc, lane: 0, call, runAt: "2026-11-27T10:00:00Z", failedAt: "2026/11/27 10:00:00 UTC", ops, fill, queues });
  for (const j of r.jobs) tokens.set(fetch[j.slot] as string, String(call));
  return flat(r);
}
/** The slot number of a test worker id ("w:2" -> 2, "host:1:q:0" -> 0). */
const slotOf = (id: string) => Number(/(\d+)$/.exec(id)?.[1] ?? 0);
const ack = (id: string, outcome: "ok" | "fail" | "bad" = "ok", exception = "E", error = "m"): SlotOp => {
  const token = tokens.get(id) ?? "none";
  const slot = slotOf(id);
  return outcome === "ok" ? { kind: "ack", id, slot, token, outcome } : { kind: "ack", id, slot, token, outcome, failure: { exception, error, backtrace: [] }, queue: "q", raw: "{}" };
};
const release = async (mode: "requeue" | "fail") => {
  const r = await releaseProcess(c, k, { proc, mode, failedAt: "2026/11/27 10:00:00 UTC" });
  return [r.requeued, r.failed];
};
/** A malformed item's failure payload: a job Resque's tools can show and retry, the item as its one argument. */
const wrapped = (stored: string) => `{"class":"Bunworker::MalformedPayload","args":[${stored}]}`;
const J1 = '{"class":"A","args":[1]}';
const J2 = '{"class":"A","args":[2]}';

describe("lane-cycle-6.lua", () => {
  test("a fetched job is Resque's worker state, which is also the in-flight record", async () => {
    await c.send("RPUSH", [k.queue("q"), J1]);
    expect(await cycle([], ["w:0"], ["q"])).toEqual([0, 1, 1, "q", "", J1]);
    expect(await c.get(k.worker("w:0"))).toBe(`{"queue":"q","run_at":"2026-11-27T10:00:00Z","payload":${J1}}`);
    expect(await c.llen(k.queue("q"))).toBe(0);
  });

  test("a resent call (lost reply) returns the jobs it fetched and applies nothing twice", async () => {
    await c.send("RPUSH", [k.queue("q"), J1, J2]);
    await cycle([], ["w:0"], ["q"]);
    const first = await cycle([ack("w:0")], ["w:0"], ["q"]);
    const resent = await cycle([ack("w:0")], ["w:0"], ["q"], true);
    expect(first).toEqual([0, 1, 1, "q", "", J2]);
    expect(resent).toEqual(first);
    expect(await c.get(k.processed)).toBe("1");
    expect(await c.get(k.processedBy("w:0"))).toBe("1");
    expect(await c.llen(k.queue("q"))).toBe(0);
  });

  test("an ack for a state our reaper removed (release deletes the tokens with the states) counts nothing", async () => {
    await c.send("RPUSH", [k.queue("q"), J1]);
    await cycle([], ["w:0"], ["q"]);
    await c.del(k.worker("w:0"), k.lanes(proc));
    await cycle([ack("w:0", "fail")], [], []);
    expect(await c.get(k.processed)).toBeNull();
    expect(await c.llen(k.failed)).toBe(0);
  });

  test("a free slot that still holds a state gets that job back instead of a new one", async () => {
    await c.send("RPUSH", [k.queue("q"), J2]);
    await c.set(k.worker("w:0"), `{"queue":"old","run_at":"2026-11-27T09:00:00Z","payload":${J1}}`);
    expect(await cycle([], ["w:0"], ["q"])).toEqual([0, 1, 1, "old", "", J1]);
    expect(await c.llen(k.queue("q"))).toBe(1);
  });

  test("an ack names its job: one for another job than the slot holds (a failover's lost writes) clears nothing, and that job runs next", async () => {
    await c.send("RPUSH", [k.queue("q"), J1]);
    await cycle([], ["w:0"], ["q"]);
    // As if Redis failed over to a replica that missed the ack of J1 and the fetch of J2 into the same slot...
    const other = `{"queue":"q","run_at":"2026-11-27T10:00:00Z","payload":${J2}}`;
    await c.set(k.worker("w:0"), other);
    await c.hset(k.lanes(proc), "t0", "7");
    // ...the worker acknowledges J1 (its token is the first call's): J2 must stay, uncounted...
    expect(await cycle([ack("w:0")], [], [])).toEqual([0, 0]);
    expect(await c.get(k.worker("w:0"))).toBe(other);
    expect(await c.get(k.processed)).toBeNull();
    // ...and the slot's next fetch gives J2 back to run.
    expect(await cycle([], ["w:0"], ["q"])).toEqual([0, 1, 1, "q", "", J2]);
  });

  test("queue order is priority", async () => {
    await c.send("RPUSH", [k.queue("high"), "h1"]);
    await c.send("RPUSH", [k.queue("low"), "l1"]);
    const r = await cycle([], ["w:0", "w:1", "w:2"], ["high", "low"]);
    expect(r[1]).toBe(2);
    expect([r[5], r[9]]).toEqual(["h1", "l1"]);
  });

  test("pause-all-workers (any case, any spaces) stops fetching but not acking", async () => {
    await c.send("RPUSH", [k.queue("q"), J1, J2]);
    await cycle([], ["w:0"], ["q"]);
    await c.set(k.pause, " TRUE ");
    expect(await cycle([ack("w:0")], ["w:0"], ["q"])).toEqual([1, 0]);
    expect(await c.llen(k.queue("q"))).toBe(1);
    expect(await c.get(k.processed)).toBe("1");
    expect(await c.get(k.worker("w:0"))).toBeNull();
  });

  test("failure entries keep the payload bytes; an item that is not a runnable object is kept as a string inside a job Resque's tools can show and retry", async () => {
    await c.send("RPUSH", [k.queue("q"), '{"class":"X","args":[1.0]}', "not json", Buffer.from([0x7b, 0xff, 0x7d]) as unknown as string]);
    const r = await cycle([], ["w:0", "w:1", "w:2"], ["q"]);
    expect([r[4], r[8], r[12]]).toEqual(["", "", "u"]);
    expect(await c.get(k.worker("w:1"))).toBe('{"queue":"q","run_at":"2026-11-27T10:00:00Z","payload":"not json"}');
    const tail = (id: string) => `,"exception":"E","error":"m","backtrace":[],"worker":"${id}","queue":"q"}`;
    await cycle([ack("w:0", "fail"), ack("w:1", "bad"), ack("w:2", "bad")], [], []);
    expect(await c.lrange(k.failed, 0, -1)).toEqual([
      `{"failed_at":"2026/11/27 10:00:00 UTC","payload":{"class":"X","args":[1.0]}${tail("w:0")}`,
      `{"failed_at":"2026/11/27 10:00:00 UTC","payload":${wrapped('"not json"')}${tail("w:1")}`,
      `{"failed_at":"2026/11/27 10:00:00 UTC","payload":${wrapped('"{\\u00ff}"')}${tail("w:2")}`,
    ]);
    expect(await c.get(k.failedCount)).toBe("3");
    expect(await c.get(k.processed)).toBe("3");
  });
});

describe("release-5.lua", () => {
  async function register(ids: string[]) {
    await c.hset(k.processes, proc, JSON.stringify(ids));
    for (const id of ids) {
      await c.sadd(k.workers, id);
      await c.hset(k.heartbeats, id, "2026-11-27T10:00:00+00:00");
      await c.set(k.started(id), "x");
    }
  }

  test("running jobs go back to the front of their queues, in order; a second run finds nothing", async () => {
    await register(["host:1:q:0", "host:1:q:1"]);
    const [a, b, later] = ["a", "b", "later"].map((t) => `{"class":"J","args":["${t}"]}`) as [string, string, string];
    await c.send("RPUSH", [k.queue("q"), a, b, later]);
    await cycle([], ["host:1:q:1", "host:1:q:0"], ["q"]);
    expect(await release("requeue")).toEqual([2, 0]);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual([a, b, later]);
    expect(await release("requeue")).toEqual([0, 0]);
  });

  test("fail mode writes Resque's PruneDeadWorkerDirtyExit entry, and unregisters the process's ids", async () => {
    await register(["host:1:q:0"]);
    await c.send("RPUSH", [k.queue("q"), '{"class":"Mailer","args":[1]}']);
    await cycle([], ["host:1:q:0"], ["q"]);
    expect(await release("fail")).toEqual([0, 1]);
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toEqual({
      failed_at: "2026/11/27 10:00:00 UTC", payload: { class: "Mailer", args: [1] }, exception: "Resque::PruneDeadWorkerDirtyExit",
      error: "Worker host:1:q:0 did not gracefully exit while processing Mailer", backtrace: [], worker: "host:1:q:0", queue: "q",
    });
    expect(await c.scard(k.workers)).toBe(0);
    expect(await c.hlen(k.heartbeats)).toBe(0);
    expect(await c.exists(k.started("host:1:q:0"))).toBe(false);
    expect(await c.exists(k.worker("host:1:q:0"))).toBe(false);
    expect(await c.hlen(k.processes)).toBe(0);
    expect(await c.exists(k.lanes(proc))).toBe(false);
  });

  test("a malformed item held by a dead worker becomes the failure it would have been, kept as stored", async () => {
    await register(["host:1:q:0"]);
    await c.send("RPUSH", [k.queue("q"), "not json"]);
    await cycle([], ["host:1:q:0"], ["q"]);
    expect(await release("requeue")).toEqual([0, 1]);
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toMatchObject({ payload: { class: "Bunworker::MalformedPayload", args: ["not json"] }, exception: "MalformedPayloadError" });
    expect(await c.llen(k.queue("q"))).toBe(0);
  });
});
