// The Lua scripts on their own (STYLE: test each script directly): the idempotency the fetch loop relies on
// when a reply is lost, and the hand-back order of release.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys, type Keys } from "../src/keys";
import { runScript, scripts } from "../src/scripts";
import { client, dropNamespace, freshNamespace } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
const proc = "host:1";
beforeEach(() => {
  c = client();
  k = makeKeys(freshNamespace());
});
afterEach(async () => {
  await dropNamespace(c, k.ns);
  c.close();
});

type Reply = (string | number)[];
function cycle(acks: string[][], fetch: string[][], queues: string[]): Promise<Reply> {
  return runScript<Reply>(c, scripts.cycle, [k.inflight(proc), k.processed, k.failedCount, k.failed, k.pause],
    [k.workerPrefix, k.processedBy(""), k.failedBy(""), k.queuePrefix, k.landing(proc, ""), "2026-11-27T10:00:00Z", "2026/11/27 10:00:00 UTC",
      acks.length, fetch.length, queues.length, ...acks.flat(), ...fetch.flat(), ...queues]);
}
const release = (mode: string, unregister = "unregister") => runScript<[number, number]>(c, scripts.release,
  [k.inflight(proc), k.landings(proc), k.workers, k.heartbeats, k.processes, k.beats],
  [proc, mode, k.queuePrefix, k.workerPrefix, k.processedBy(""), k.failedBy(""), k.landing(proc, ""), k.failed, "2026/11/27 10:00:00 UTC", unregister]);

describe("cycle-5.lua", () => {
  test("a retried fetch gets the job its lost reply carried, not a second one", async () => {
    await c.send("RPUSH", [k.queue("q"), "j1", "j2"]);
    const first = await cycle([], [["w:0", "t1"]], ["q"]);
    expect(first).toEqual([0, 1, 1, "t1", "q", "", "j1"]);
    const retry = await cycle([], [["w:0", "t2"]], ["q"]);
    expect(retry).toEqual([0, 1, 1, "t1", "q", "", "j1"]);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual(["j2"]);
  });

  test("an ack counts once, however often it is sent, and only with the matching token", async () => {
    await c.send("RPUSH", [k.queue("q"), '{"class":"A"}']);
    await cycle([], [["w:0", "t1"]], ["q"]);
    await cycle([["w:0", "wrong", "ok", ""]], [], []);
    expect(await c.get(k.processed)).toBeNull();
    for (let i = 0; i < 3; i++) await cycle([["w:0", "t1", "ok", ""]], [], []);
    expect(await c.get(k.processed)).toBe("1");
    expect(await c.get(k.processedBy("w:0"))).toBe("1");
    expect(await c.hlen(k.inflight(proc))).toBe(0);
    expect(await c.get(k.worker("w:0"))).toBeNull();
  });

  test("landed jobs come first within their queue, and queue order is priority", async () => {
    await c.send("RPUSH", [k.queue("high"), "h1"]);
    await c.send("RPUSH", [k.queue("low"), "l2"]);
    await c.send("RPUSH", [k.landing(proc, "low"), "l1"]);
    const r = await cycle([], [["w:0", "a"], ["w:1", "b"], ["w:2", "c"], ["w:3", "d"]], ["high", "low"]);
    expect(r[1]).toBe(3);
    expect([r[6], r[11], r[16]]).toEqual(["h1", "l1", "l2"]);
  });

  test("pause-all-workers (any case, any spaces) stops fetching but not acking", async () => {
    await c.send("RPUSH", [k.queue("q"), "j1"]);
    await c.set(k.pause, " TRUE ");
    expect(await cycle([], [["w:0", "t"]], ["q"])).toEqual([1, 0]);
    expect(await c.llen(k.queue("q"))).toBe(1);
  });

  test("a failure entry is appended after the payload bytes; 'bad' keeps a non-object item as a string", async () => {
    await c.send("RPUSH", [k.queue("q"), '{"class":"X","args":[1.0]}', "not json"]);
    await cycle([], [["w:0", "a"], ["w:1", "b"]], ["q"]);
    const tail = ',"exception":"E","error":"m","backtrace":[],"worker":"w","queue":"q"}';
    await cycle([["w:0", "a", "fail", tail], ["w:1", "b", "bad", tail]], [], []);
    expect(await c.lrange(k.failed, 0, -1)).toEqual([
      `{"failed_at":"2026/11/27 10:00:00 UTC","payload":{"class":"X","args":[1.0]}${tail}`,
      `{"failed_at":"2026/11/27 10:00:00 UTC","payload":"not json"${tail}`,
    ]);
    expect(await c.get(k.failedCount)).toBe("2");
    expect(await c.get(k.processed)).toBe("2");
  });
});

describe("release-6.lua", () => {
  test("in-flight jobs and landed jobs go back to the front of their queues, in order; a second run finds nothing", async () => {
    await c.send("RPUSH", [k.queue("q"), "a", "b", "c", "later"]);
    await cycle([], [["w:0", "t"]], ["q"]);
    await c.send("LMOVE", [k.queue("q"), k.landing(proc, "q"), "LEFT", "RIGHT"]);
    await c.send("LMOVE", [k.queue("q"), k.landing(proc, "q"), "LEFT", "RIGHT"]);
    await c.sadd(k.landings(proc), "q");
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual(["later"]);
    expect(await release("requeue")).toEqual([3, 0]);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual(["a", "b", "c", "later"]);
    expect(await release("requeue")).toEqual([0, 0]);
  });

  test("fail mode writes Resque's PruneDeadWorkerDirtyExit entry, and unregisters the process's ids", async () => {
    await c.send("RPUSH", [k.queue("q"), '{"class":"Mailer","args":[1]}']);
    await c.hset(k.processes, proc, JSON.stringify(["host:1:q:0"]));
    await c.sadd(k.workers, "host:1:q:0");
    await c.hset(k.heartbeats, "host:1:q:0", "2026-11-27T10:00:00+00:00");
    await c.set(k.started("host:1:q:0"), "x");
    await cycle([], [["host:1:q:0", "t"]], ["q"]);
    expect(await release("fail")).toEqual([0, 1]);
    const entry = JSON.parse((await c.lindex(k.failed, 0)) as string);
    expect(entry).toEqual({
      failed_at: "2026/11/27 10:00:00 UTC", payload: { class: "Mailer", args: [1] }, exception: "Resque::PruneDeadWorkerDirtyExit",
      error: "Worker host:1:q:0 did not gracefully exit while processing Mailer", backtrace: [], worker: "host:1:q:0", queue: "q",
    });
    expect(await c.scard(k.workers)).toBe(0);
    expect(await c.hlen(k.heartbeats)).toBe(0);
    expect(await c.exists(k.started("host:1:q:0"))).toBe(false);
    expect(await c.hlen(k.processes)).toBe(0);
  });
});
