// Issue #9, point 1: every Lua script is all or nothing. Each key a script touches is replaced by every wrong
// type (and each counter by values INCRBY refuses); the script must then change nothing and name the key
// (BadKeyError), or, where the issue says so, skip that key and go on: a queue of the wrong type is skipped,
// a pause key of the wrong type is not "true". Redis is compared byte for byte (DUMP of every key) before
// and after each failing call.
import { beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import type { Keys } from "../src/keys";
import { BadKeyError, heartbeat, laneCycle, pickup, releaseProcess, type SlotOp } from "../src/scripts";
import { isolateKeys } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys: k } = t));

const proc = "host:1:abc";
const J = '{"class":"J","args":[1]}';
const state = (queue: string, payload: string) => `{"queue":"${queue}","run_at":"2026-11-27T10:00:00Z","payload":${payload}}`;

/** Every key of the namespace with its type and serialized value. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of (await c.keys(`${ns}*`)).sort()) {
    const dump = (await c.send("DUMP", [key])) as Uint8Array | string | null;
    out[key] = `${await c.type(key)}:${Buffer.from(dump ?? "").toString("base64")}`;
  }
  return out;
}

type Kind = "string" | "list" | "hash" | "set" | "zset";
const KINDS: Kind[] = ["string", "list", "hash", "set", "zset"];
async function plant(key: string, kind: Kind | { value: string }): Promise<void> {
  await c.del(key);
  if (typeof kind === "object") return void (await c.set(key, kind.value));
  if (kind === "string") await c.set(key, "x");
  if (kind === "list") await c.send("RPUSH", [key, "x"]);
  if (kind === "hash") await c.hset(key, "f", "x");
  if (kind === "set") await c.sadd(key, "x");
  if (kind === "zset") await c.send("ZADD", [key, "1", "x"]);
}
const BAD_COUNTERS = ["abc", "1.5", " 7", "007", "+3", "9".repeat(19), ""];

/** A key named at collection time (the namespace exists only inside a test): its label and how to build it. */
type KeyOf = [label: string, key: (k: Keys) => string];
const K = {
  lanes: ["lanes hash", (k) => k.lanes(proc)],
  failed: ["failed", (k) => k.failed],
  processed: ["stat:processed", (k) => k.processed],
  failedCount: ["stat:failed", (k) => k.failedCount],
  state0: ["worker:w:0", (k) => k.worker("w:0")],
  state1: ["worker:w:1", (k) => k.worker("w:1")],
  processed0: ["stat:processed:w:0", (k) => k.processedBy("w:0")],
  failed0: ["stat:failed:w:0", (k) => k.failedBy("w:0")],
  workers: ["workers", (k) => k.workers],
  heartbeats: ["workers:heartbeat", (k) => k.heartbeats],
  processes: ["bunworker:processes", (k) => k.processes],
  beats: ["bunworker:beats", (k) => k.beats],
} satisfies Record<string, KeyOf>;

/** Plants `bad` at `key`, then runs `f`, expecting a BadKeyError naming `key` and Redis unchanged. */
async function refuses(key: string, bad: Kind | { value: string }, f: () => Promise<unknown>): Promise<void> {
  await plant(key, bad);
  const before = await snapshot();
  const e = await f().then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(BadKeyError);
  expect((e as BadKeyError).key).toBe(key);
  expect(await snapshot()).toEqual(before);
}

/** One test per key and per type it must not have. */
function wrongTypes(keys: [KeyOf, Kind][], run: () => Promise<unknown>): void {
  for (const [[label, keyOf], want] of keys) {
    for (const kind of KINDS.filter((x) => x !== want)) {
      test(`${label} as a ${kind}: refused, nothing changed`, () => refuses(keyOf(k), kind, run));
    }
  }
}

describe("lane-cycle-6.lua", () => {
  let call = 0;
  // A lane with a running job in w:0 that failed, and a free slot w:1 to fill from queue q.
  beforeEach(async () => {
    call = 0;
    await c.hset(k.beats, proc, "1");
    await c.set(k.worker("w:0"), state("q", J));
    await c.hset(k.lanes(proc), "t0", "t0");
    await c.send("RPUSH", [k.queue("q"), J]);
  });
  const ack: SlotOp = { kind: "ack", id: "w:0", slot: 0, token: "t0", outcome: "fail", failure: { exception: "E", error: "m", backtrace: [] }, queue: "q", raw: J };
  const run = () => laneCycle(c, k, { proc, lane: 0, call: ++call, runAt: "2026-11-27T10:00:00Z", failedAt: "x", ops: [ack], fill: [{ id: "w:1", slot: 1 }], queues: ["q"] });

  const musts: [KeyOf, Kind][] = [[K.lanes, "hash"], [K.failed, "list"], [K.state0, "string"], [K.state1, "string"],
    [K.processed, "string"], [K.failedCount, "string"], [K.processed0, "string"], [K.failed0, "string"]];
  wrongTypes(musts, () => run());
  for (const [label, keyOf] of [K.processed, K.failedCount, K.processed0, K.failed0]) {
    for (const value of BAD_COUNTERS) {
      test(`${label} = ${JSON.stringify(value.slice(0, 12))}: refused, nothing changed`, () => refuses(keyOf(k), { value }, run));
    }
  }
  for (const [label, keyOf] of [K.state0, K.state1]) {
    test(`${label} holding a string that is no worker state: refused, nothing changed`, () => refuses(keyOf(k), { value: "garbage" }, run));
  }

  test("a queue of the wrong type is skipped and named; the other queues are served and the acks applied", async () => {
    await plant(k.queue("bad"), "hash");
    const r = await laneCycle(c, k, { proc, lane: 0, call: 1, runAt: "2026-11-27T10:00:00Z", failedAt: "x", ops: [ack], fill: [{ id: "w:1", slot: 1 }], queues: ["bad", "q"] });
    expect(r.badQueues).toEqual(["bad"]);
    expect(r.jobs.map((j) => j.raw)).toEqual([J]);
    expect(await c.type(k.queue("bad"))).toBe("hash");
    expect(await c.get(k.processed)).toBe("1");
  });

  test("a pause key of another type is not \"true\": fetching goes on", async () => {
    await plant(k.pause, "list");
    expect((await run()).jobs.length).toBe(1);
  });

  test("an unregistered process (reaped while frozen) fetches nothing, but its acks still apply", async () => {
    await c.hdel(k.beats, proc);
    const r = await run();
    expect(r.paused).toBe("unregistered");
    expect(r.jobs).toEqual([]);
    expect(await c.llen(k.queue("q"))).toBe(1);
    expect(await c.get(k.processed)).toBe("1");
  });

  test("a resent call after a refused one applies normally (no replay of anything the refused call did)", async () => {
    await plant(k.processed, { value: "abc" });
    await expect(run()).rejects.toBeInstanceOf(BadKeyError);
    await c.del(k.processed);
    call--; // the lane resends the same call number
    const r = await run();
    expect(r.jobs.map((j) => j.raw)).toEqual([J]);
    expect(await c.get(k.processed)).toBe("1");
    expect(await c.llen(k.failed)).toBe(1);
  });
});

describe("release-5.lua", () => {
  const id = "host:1:q:0.abc";
  beforeEach(async () => {
    await c.hset(k.processes, proc, JSON.stringify([id]));
    await c.hset(k.beats, proc, "1");
    await c.sadd(k.workers, id);
    await c.hset(k.heartbeats, id, "t");
    await c.set(k.worker(id), state("q", J));
  });
  const run = (mode: "requeue" | "fail" = "requeue") => releaseProcess(c, k, { proc, mode, failedAt: "x" });
  wrongTypes([[K.workers, "set"], [K.heartbeats, "hash"], [K.processes, "hash"], [K.beats, "hash"]], () => run());
  wrongTypes([[["failed (a job must fail)", (k) => k.failed], "list"]], () => run("fail"));
  test("a running job whose queue key has the wrong type becomes a failure entry instead of being lost", async () => {
    await plant(k.queue("q"), "zset");
    expect(await run()).toEqual({ requeued: 0, failed: 1, unregistered: 1 });
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toMatchObject({ exception: "Bunworker::RequeueFailed", payload: { class: "J" }, queue: "q" });
    expect(await c.type(k.queue("q"))).toBe("zset");
  });
  test("a worker state that is no state (garbage) is kept as a failure entry, not dropped", async () => {
    await c.set(k.worker(id), "garbage");
    expect(await run()).toEqual({ requeued: 0, failed: 1, unregistered: 1 });
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toMatchObject({ payload: { class: "Bunworker::MalformedPayload", args: ["garbage"] } });
  });
});

describe("heartbeat-4.lua", () => {
  const run = () => heartbeat(c, k, { proc, ids: ["w:0", "w:1"], heartbeatAt: "t", startedAt: "s", identity: "1|2|3|4" });
  wrongTypes([[K.workers, "set"], [K.heartbeats, "hash"], [K.processes, "hash"], [K.beats, "hash"]], () => run());
  test("registers every id, stamps the beat with the identity, and returns every beat", async () => {
    await c.hset(k.beats, "other:2:x", "5|a|b|c|d");
    const r = await run();
    expect(r.added).toBe(2);
    expect(r.beats["other:2:x"]).toBe("5|a|b|c|d");
    expect(await c.hget(k.beats, proc)).toMatch(/^\d+\|1\|2\|3\|4$/);
    const again = await run();
    expect(again.added).toBe(0);
    expect(again.beats[proc]).toMatch(/^\d+\|1\|2\|3\|4$/);
  });
});

describe("pickup-4.lua", () => {
  beforeEach(async () => {
    await c.hset(k.beats, proc, "1");
    await c.send("RPUSH", [k.queue("q"), J]);
  });
  const run = () => pickup(c, k, { proc, queue: "q", id: "w:0", slot: 0, token: "p1", runAt: "2026-11-27T10:00:00Z" });
  wrongTypes([[K.state0, "string"], [K.beats, "hash"]], () => run());
  test("takes one job into the slot's state, atomically", async () => {
    expect(await run()).toEqual({ notUtf8: false, raw: J, more: false });
    expect(await c.get(k.worker("w:0"))).toBe(state("q", J));
    expect(await c.llen(k.queue("q"))).toBe(0);
  });
  test("never a second job into an occupied slot (a resent or abandoned pickup), nor for an unregistered process, nor while paused", async () => {
    await c.set(k.worker("w:0"), state("q", '{"class":"Old"}'));
    expect(await run()).toBe("skip");
    await c.del(k.worker("w:0"));
    await c.hdel(k.beats, proc);
    expect(await run()).toBe("skip");
    await c.hset(k.beats, proc, "1");
    await c.set(k.pause, "true");
    expect(await run()).toBe("skip");
    expect(await c.llen(k.queue("q"))).toBe(1);
  });
  test("an empty queue costs one command and changes nothing", async () => {
    await c.del(k.queue("q"));
    const before = await snapshot();
    expect(await run()).toBeNull();
    expect(await snapshot()).toEqual(before);
  });
});
