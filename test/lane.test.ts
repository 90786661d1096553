// Issue #8: one fetch lane driven directly, against real Redis, with a real RedisConn, a real Runner and a
// small registry. The lane's two neighbours are the test's: a QueueSource with a fixed order, and a
// LaneListener that records what the lane tells its manager. A fake clock stamps the worker states.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { createConsola } from "consola/core";
import { resolveConfig } from "../src/config";
import type { WorkerContext } from "../src/context";
import type { Keys } from "../src/keys";
import { Lane, type LaneListener, type QueueSource, type Slot } from "../src/lane";
import { RedisConn } from "../src/redis";
import type { JobContext } from "../src/registry";
import { Outage } from "../src/retry";
import { Runner } from "../src/runner";
import { pickup, type BadKeyError, type PickedJob } from "../src/scripts";
import { defaultSettings } from "../src/settings";
import { registryWith } from "./helpers/in-process";
import { isolateKeys, REDIS_URL, waitFor } from "./helpers/redis";

let c: RedisClient;
let k: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys: k } = t));

const PROC = "lanehost:1:inst";
const NOW = new Date("2031-02-03T04:05:06.789Z");
const RUN_AT = "2031-02-03T04:05:06Z";
const FAILED_AT = "2031/02/03 04:05:06 UTC";

class Recorder implements LaneListener {
  changed = 0;
  more = 0;
  bad: string[][] = [];
  fatals: BadKeyError[] = [];
  taken: string[] = [];
  laneChanged(): void {
    this.changed++;
  }
  moreWork(): void {
    this.more++;
  }
  took(queue: string): void {
    this.taken.push(queue);
  }
  badQueues(queues: readonly string[]): void {
    this.bad.push([...queues]);
  }
  fatal(e: BadKeyError): void {
    this.fatals.push(e);
  }
  bookkeeping(): void {}
}

/** What the jobs did: "started" in order; Hold jobs wait for release(). */
let started: string[];
let aborts: unknown[];
let release: () => void;
let held: Promise<void>;
const registry = registryWith({
  Run: (_q: string, tag: string) => void started.push(tag),
  Fail: (_q: string, tag: string) => {
    started.push(tag);
    throw new RangeError(`failed ${tag}`);
  },
  Hold: function (this: JobContext, _q: string, tag: string) {
    started.push(tag);
    const signal = this.signal;
    return new Promise<void>((resolve, reject) => {
      void held.then(resolve);
      signal.addEventListener("abort", () => (aborts.push(signal.reason), reject(signal.reason)));
    });
  },
});
const job = (cls: string, tag: string) => `{"class":"${cls}","args":["${tag}"]}`;

let stop: AbortController;
let conn: RedisConn;
let ctx: WorkerContext;
let listener: Recorder;
let order: string[];
const source: QueueSource = { fetchOrder: () => order };
const lanes: Lane[] = [];

beforeEach(async () => {
  started = [];
  aborts = [];
  held = new Promise<void>((r) => (release = r));
  const log = createConsola({ level: 0, reporters: [{ log: () => {} }] });
  const config = resolveConfig({ ...defaultSettings({}), uri: REDIS_URL, namespace: ns, queues: ["q"], commandTimeout: 2 }, { log, clock: { now: () => NOW } });
  stop = new AbortController();
  ctx = { config, proc: PROC, host: "lanehost", outage: new Outage(log, "test"), hardStop: stop.signal };
  conn = new RedisConn(config.target, config.commandTimeoutMs, "lane-test");
  listener = new Recorder();
  order = ["q"];
  // registered: a lane fetches only for a process in the beats hash
  await c.hset(k.beats, PROC, "1");
});

afterEach(async () => {
  release();
  for (const lane of lanes.splice(0)) {
    lane.abandonAll(new Error("test over"));
    lane.quiesce();
  }
  stop.abort();
  conn.close();
});

function lane(n: number): { lane: Lane; slots: Slot[] } {
  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({ id: `lanehost:1:q:${i}.inst`, no: i, job: null, lent: false }));
  const l = new Lane(ctx, conn, 0, slots, source, new Runner({ registry, useNumber: false, jobTimeoutMs: 0, log: ctx.config.log }), listener);
  lanes.push(l);
  return { lane: l, slots };
}

/** Until the lane's loop has finished its calls. */
const settle = (l: Lane) => waitFor(() => !l.working, 5000, "the lane's calls to finish");
/** The number of the lane's last applied call, as the script records it. */
const calls = async () => Number((await c.hget(k.lanes(PROC), "0")) ?? 0);
const push = (q: string, ...items: string[]) => c.send("RPUSH", [k.queue(q), ...items]);

describe("fetching", () => {
  test("fills the free slots in queue order, writes Resque's worker states with the clock's run_at, and says there may be more", async () => {
    order = ["high", "low"];
    await push("low", job("Hold", "l1"), job("Hold", "l2"));
    await push("high", job("Hold", "h1"), job("Hold", "h2"));
    const { lane: l, slots } = lane(3);
    l.kick();
    await settle(l);
    expect(started).toEqual(["h1", "h2", "l1"]);
    expect(await Promise.all(slots.map((s) => c.get(k.worker(s.id))))).toEqual([
      `{"queue":"high","run_at":"${RUN_AT}","payload":${job("Hold", "h1")}}`,
      `{"queue":"high","run_at":"${RUN_AT}","payload":${job("Hold", "h2")}}`,
      `{"queue":"low","run_at":"${RUN_AT}","payload":${job("Hold", "l1")}}`,
    ]);
    expect(await c.lrange(k.queue("low"), 0, -1)).toEqual([job("Hold", "l2")]);
    expect(l.busySlots).toBe(3);
    expect(l.freeSlots()).toBe(0);
    // every free slot got a job: the manager should let its other lanes look too
    expect(listener.more).toBe(1);
    expect(l.idle).toBe(false);
    expect(await calls()).toBe(1);
  });

  test("a queue of the wrong type is skipped and reported; the others are served", async () => {
    order = ["broken", "q"];
    await c.set(k.queue("broken"), "not a list");
    await push("q", job("Run", "a"));
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    expect(started).toEqual(["a"]);
    expect(listener.bad).toEqual([["broken"]]);
    expect(listener.fatals).toEqual([]);
  });

  test("finished jobs are acknowledged together in the next call: stats, failure entries, states removed", async () => {
    await push("q", job("Run", "ok"), job("Fail", "boom"), "not json");
    const { lane: l, slots } = lane(3);
    l.kick();
    await settle(l);
    expect(started).toEqual(["ok", "boom"]);
    // call 1 fetched three jobs; call 2 carried all three acks (and a fetch that found nothing)
    expect(await calls()).toBe(2);
    expect(l.idle).toBe(true);
    expect(l.pendingAcks).toBe(0);
    expect(await c.get(k.processed)).toBe("3");
    expect(await c.get(k.failedCount)).toBe("2");
    for (const s of slots) {
      expect(await c.get(k.processedBy(s.id))).toBe("1");
      expect(await c.exists(k.worker(s.id))).toBe(false);
    }
    expect(await c.get(k.failedBy((slots[0] as Slot).id))).toBeNull();
    const failures = (await c.lrange(k.failed, 0, -1)).map((e) => JSON.parse(e));
    expect(failures.map((f) => [f.exception, f.worker, f.queue, f.failed_at])).toEqual([
      ["RangeError", (slots[1] as Slot).id, "q", FAILED_AT],
      ["MalformedPayloadError", (slots[2] as Slot).id, "q", FAILED_AT],
    ]);
  });
});

describe("idle and wake", () => {
  test("a short fetch makes the lane idle: kick() does not fetch, wake() does", async () => {
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    expect(l.idle).toBe(true);
    expect(await calls()).toBe(1);
    expect(listener.more).toBe(0);
    await push("q", job("Run", "later"));
    l.kick();
    await settle(l);
    expect(started).toEqual([]);
    expect(await calls()).toBe(1);
    l.wake();
    await settle(l);
    expect(started).toEqual(["later"]);
    expect(await c.llen(k.queue("q"))).toBe(0);
    expect(await c.get(k.processed)).toBe("1");
    expect(l.idle).toBe(true);
  });

  test("hold(true) stops fetching; hold(false) fetches again", async () => {
    await push("q", job("Run", "held"));
    const { lane: l } = lane(2);
    l.hold(true);
    l.kick();
    l.wake(true);
    await settle(l);
    expect(l.paused).toBe(true);
    expect(started).toEqual([]);
    expect(await c.llen(k.queue("q"))).toBe(1);
    expect(await calls()).toBe(0);
    l.hold(false);
    await settle(l);
    expect(started).toEqual(["held"]);
  });

  test("after quiesce() the lane only acknowledges", async () => {
    await push("q", job("Hold", "running"));
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    expect(l.busySlots).toBe(1);
    l.quiesce();
    await push("q", job("Run", "too late"));
    release();
    await waitFor(async () => (await c.get(k.processed)) === "1", 5000, "the ack");
    await settle(l);
    l.wake(true);
    await settle(l);
    expect(started).toEqual(["running"]);
    expect(await c.llen(k.queue("q"))).toBe(1);
    expect(l.drained).toBe(true);
  });
});

describe("lending a slot to a blocker", () => {
  test("only an idle lane lends, and it always keeps one free slot of its own", async () => {
    const { lane: l, slots } = lane(3);
    expect(l.lend()).toBeUndefined(); // not idle yet: its first fetch has not run
    l.kick();
    await settle(l);
    const a = l.lend();
    const b = l.lend();
    expect([a, b]).toEqual([slots[0], slots[1]]);
    expect(a?.lent).toBe(true);
    expect(l.freeSlots()).toBe(1);
    expect(l.lend()).toBeUndefined();
    l.giveBack(a as Slot, false);
    expect(a?.lent).toBe(false);
    expect(l.freeSlots()).toBe(2);
  });

  test("a lent slot is never filled by the lane's own fetch", async () => {
    const { lane: l, slots } = lane(2);
    l.kick();
    await settle(l);
    const lent = l.lend() as Slot;
    await push("q", job("Hold", "one"), job("Hold", "two"));
    l.wake();
    await settle(l);
    expect(started).toEqual(["one"]);
    expect(await c.exists(k.worker(lent.id))).toBe(false);
    expect(await c.exists(k.worker((slots.find((s) => s !== lent) as Slot).id))).toBe(true);
    expect(await c.llen(k.queue("q"))).toBe(1);
    // the one free slot was filled: there may be more
    expect(listener.more).toBe(1);
  });

  test("giveBack(slot, false) does not fetch; giveBack(slot, true) does", async () => {
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    await push("q", job("Run", "waiting"));
    l.giveBack(l.lend() as Slot, false);
    expect(l.working).toBe(false);
    expect(l.idle).toBe(true);
    l.giveBack(l.lend() as Slot, true);
    await settle(l);
    expect(started).toEqual(["waiting"]);
  });

  test("a state the pickup wrote into a lent slot (its reply lost) runs once, after giveBack(slot, true)", async () => {
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    const lent = l.lend() as Slot;
    await push("q", job("Run", "orphan"));
    const picked = await pickup(c, k, { proc: PROC, queue: "q", id: lent.id, slot: lent.no, token: "p1", runAt: RUN_AT });
    expect(picked).toMatchObject({ raw: job("Run", "orphan") });
    l.giveBack(lent, true);
    await settle(l);
    expect(started).toEqual(["orphan"]);
    expect(await c.exists(k.worker(lent.id))).toBe(false);
    expect(await c.get(k.processedBy(lent.id))).toBe("1");
    l.wake(true);
    await settle(l);
    expect(started).toEqual(["orphan"]);
    expect(await c.get(k.processed)).toBe("1");
  });

  test("startPicked runs the picked job in the lent slot, and the lane acknowledges it", async () => {
    const { lane: l } = lane(2);
    l.kick();
    await settle(l);
    const lent = l.lend() as Slot;
    await push("q", job("Hold", "picked"));
    const picked = (await pickup(c, k, { proc: PROC, queue: "q", id: lent.id, slot: lent.no, token: "p1", runAt: RUN_AT })) as PickedJob;
    l.startPicked(lent, "p1", "q", picked.notUtf8, picked.raw);
    expect(lent.lent).toBe(false);
    expect(started).toEqual(["picked"]);
    expect(l.busySlots).toBe(1);
    release();
    await waitFor(async () => (await c.get(k.processedBy(lent.id))) === "1", 5000, "the ack");
    await settle(l);
    expect(await c.exists(k.worker(lent.id))).toBe(false);
    expect(l.drained).toBe(true);
  });
});

test("abandonAll() fires every running job's AbortSignal, sends no ack, and leaves the states for release", async () => {
  await push("q", job("Hold", "a"), job("Hold", "b"));
  const { lane: l, slots } = lane(3);
  l.kick();
  await settle(l);
  expect(l.busySlots).toBe(2);
  const reason = new Error("deadline");
  expect(l.abandonAll(reason)).toBe(2);
  expect(aborts).toEqual([reason, reason]);
  expect(l.busySlots).toBe(0);
  expect(l.abandonAll(reason)).toBe(0);
  // The jobs' rejections reach nobody: no ack is queued, the states stay for the shutdown's release.
  await Promise.resolve();
  expect(l.pendingAcks).toBe(0);
  expect(l.working).toBe(false);
  expect(await c.exists(k.worker((slots[0] as Slot).id))).toBe(true);
  expect(await c.exists(k.worker((slots[1] as Slot).id))).toBe(true);
  expect(await c.get(k.processed)).toBeNull();
});
