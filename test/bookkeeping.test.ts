// Issue #14, point 4 (and 8's state row): a finished job never runs again because of a bookkeeping fault. Each
// row of the table, tried on real worker processes: a key the acks write made unusable mid-drain stops
// the worker, and the jobs it had finished are kept (not handed back) and recorded by the next start; the lanes
// hash or its token fields tampered with mid-drain is logged and runs nothing twice; a worker state deleted
// under a running job is logged and the job still counts.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys } from "../src/keys";
import { BadKeyError, keepOutcomes, laneCycle, recordOutcomes, releaseProcess, tokenFields, type SlotOp } from "../src/scripts";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const JOBS = 150;

async function fill(cls = "Count", ms = 40): Promise<void> {
  const items = Array.from({ length: JOBS }, (_, i) => JSON.stringify({ class: cls, args: [`j${i}`, ms] }));
  await c.send("RPUSH", [`${ns}queue:d`, ...items]);
}

function worker(extra: string[] = []): WorkerProcess {
  return spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=d", "--concurrency=6", "--shutdown-timeout=5", "--heartbeat-interval=1", "--dead-after=3", ...extra]);
}

/** How many times each job ran, and how many ran more than once. */
async function runs(): Promise<{ total: number; twice: string[] }> {
  const h = (await c.hgetall(`${ns}test:runs`)) as Record<string, string>;
  const twice = Object.entries(h).filter(([, n]) => Number(n) > 1).map(([id, n]) => `${id}×${n}`);
  return { total: Object.keys(h).length, twice };
}

const processed = async () => Number((await c.get(`${ns}stat:processed`)) ?? 0);

interface BadKey {
  name: string;
  cls?: string;
  /** Breaks the key atomically; returns the count it held (stat:processed, or the failed list's length). */
  break(): Promise<number>;
  fix(): Promise<void>;
  /** stat:processed and the failed list's length once everything ran, given what break() returned. */
  expect(before: number): { processed: number; failed: number };
}

const swap = (script: string, key: string) => c.send("EVAL", [script, "1", key]).then(Number);

const badKeys: BadKey[] = [
  {
    name: "stat:processed holds a non-integer",
    break: () => swap("local v = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], 'abc') return tonumber(v)", `${ns}stat:processed`),
    fix: () => c.set(`${ns}stat:processed`, "1000").then(() => {}),
    expect: (before) => ({ processed: 1000 + JOBS - before, failed: 0 }),
  },
  {
    name: "the failed list is a hash",
    cls: "CountFail",
    break: () => swap("local n = redis.call('LLEN', KEYS[1]) redis.call('DEL', KEYS[1]) redis.call('HSET', KEYS[1], 'f', 'v') return n", `${ns}failed`),
    fix: () => c.del(`${ns}failed`).then(() => {}),
    expect: (before) => ({ processed: JOBS, failed: JOBS - before }),
  },
  {
    name: "every per-worker stat:processed:<id> holds a non-integer",
    break: async () => {
      const ids = (await c.smembers(`${ns}workers`)) as string[];
      await c.send("MSET", ids.flatMap((id) => [`${ns}stat:processed:${id}`, "x"]));
      return 0;
    },
    fix: async () => {},
    expect: () => ({ processed: JOBS, failed: 0 }),
  },
  {
    name: "the lanes hash is a string",
    break: async () => {
      const lanes = (await c.keys(`${ns}bunworker:lanes:*`)) as string[];
      await c.send("MSET", lanes.flatMap((key) => [key, "oops"]));
      return 0;
    },
    fix: async () => {},
    expect: () => ({ processed: JOBS, failed: 0 }),
  },
];

for (const bad of badKeys) {
  test(`${bad.name} mid-drain: the worker stops naming it, 0 jobs run twice, finished jobs are recorded by the next start`, async () => {
    await fill(bad.cls);
    const w = worker();
    await waitFor(async () => (await processed()) >= 20, 20_000, "20 jobs processed");
    const before = await bad.break();
    expect(await w.exited).toBe(1);
    expect(w.output()).toContain("fix or delete it; stopping");
    const kept = Number(await c.llen(`${ns}bunworker:outcomes`));
    await bad.fix();
    // The next start records the kept outcomes, then runs what is left, each job once.
    const w2 = worker(["--exit-on-complete"]);
    expect(await w2.exited).toBe(0);
    const r = await runs();
    expect(r.twice).toEqual([]);
    expect(r.total).toBe(JOBS);
    expect(await c.llen(`${ns}queue:d`)).toBe(0);
    expect(await c.exists(`${ns}bunworker:outcomes`)).toBe(false);
    if (kept) expect(w2.output()).toContain(`recorded ${kept} kept outcome(s)`);
    // Every job counted exactly once: before the break, kept and recorded at the next start, or run then.
    const want = bad.expect(before);
    expect(await processed()).toBe(want.processed);
    expect(await c.llen(`${ns}failed`)).toBe(want.failed);
  }, 60_000);
}

test("killed (SIGKILL) right after keeping the outcomes, before its release: the next start reaps the rest and records the kept ones; 0 ran twice", async () => {
  await fill();
  const w = worker(["--log-level=debug"]);
  await waitFor(async () => (await processed()) >= 20, 20_000, "20 jobs processed");
  const before = await badKeys[0]!.break();
  await w.waitForOutput(/kept the outcomes of \d+ finished job/, 20_000);
  w.signal("SIGKILL");
  await w.exited;
  const kept = Number(await c.llen(`${ns}bunworker:outcomes`));
  expect(kept).toBeGreaterThan(0);
  await c.set(`${ns}stat:processed`, "1000");
  const w2 = worker(["--exit-on-complete"]);
  expect(await w2.exited).toBe(0);
  const r = await runs();
  expect(r.twice).toEqual([]);
  expect(r.total).toBe(JOBS);
  expect(await processed()).toBe(1000 + JOBS - before);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect((await c.keys(`${ns}bunworker:*`)) as string[]).toEqual([]);
}, 60_000);

/** The lanes hash's token fields ("t<slot>"). */
const tokenFieldsOf = async (key: string) => Object.keys((await c.send("HGETALL", [key])) as Record<string, string>).filter((f) => /^t\d+$/.test(f));

for (const tamper of ["the token fields overwritten", "the token fields deleted", "the lanes hash deleted"]) {
  test(`${tamper} mid-drain: a log line names it and 0 jobs run twice`, async () => {
    await fill();
    const w = worker(["--exit-on-complete"]);
    await waitFor(async () => (await processed()) >= 20, 20_000, "20 jobs processed");
    const lanes = (await c.keys(`${ns}bunworker:lanes:*`)) as string[];
    expect(lanes.length).toBe(1);
    const key = lanes[0] as string;
    const fields = await tokenFieldsOf(key);
    expect(fields.length).toBeGreaterThan(0);
    if (tamper.endsWith("overwritten")) await c.send("HSET", [key, ...fields.flatMap((f) => [f, "garbage"])]);
    else if (tamper.endsWith("fields deleted")) await c.send("HDEL", [key, ...fields]);
    else await c.del(key);
    expect(await w.exited).toBe(0);
    const r = await runs();
    expect(r.twice).toEqual([]);
    expect(r.total).toBe(JOBS);
    expect(await processed()).toBe(JOBS);
    expect(w.output()).toContain(`${key}: `);
    expect(w.output()).toMatch(/had no valid token in the lanes hash/);
  }, 60_000);
}

test("a worker state deleted under its running job (Resque.remove_worker): logged once, the job still counts", async () => {
  const w = worker();
  await w.waitForOutput(/started/);
  await c.rpush(`${ns}queue:d`, JSON.stringify({ class: "Slow", args: [600, "long"] }), JSON.stringify({ class: "CountFail", args: ["f", 600] }));
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1 && (await c.llen(`${ns}queue:d`)) === 0, 10_000, "both jobs running");
  const k = makeKeys(ns);
  const ids = (await c.smembers(k.workers)) as string[];
  const busy: string[] = [];
  for (const id of ids) if (await c.exists(k.worker(id))) busy.push(id);
  expect(busy.length).toBe(2);
  // What Resque.remove_worker deletes for each of them.
  for (const id of busy) {
    await c.srem(k.workers, id);
    await c.del(k.worker(id), k.started(id), k.processedBy(id), k.failedBy(id));
    await c.hdel(k.heartbeats, id);
  }
  await waitFor(async () => (await processed()) === 2, 10_000, "both jobs counted");
  expect(Number(await c.get(`${ns}stat:failed`))).toBe(1);
  const failure = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string) as { payload: unknown; error: string };
  expect(failure.payload).toEqual({ class: "CountFail", args: ["f", 600] });
  expect(failure.error).toBe("failed on purpose: f");
  for (const id of busy) expect(w.output().split(`${k.worker(id)} was deleted while its job ran`).length - 1).toBe(1);
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["long"]);
}, 30_000);

describe("keep-outcomes-2.lua and record-outcomes-4.lua on their own", () => {
  const proc = "host:1:inst";
  const J = (tag: string) => `{"class":"J","args":["${tag}"]}`;
  const state = (tag: string) => `{"queue":"q","run_at":"2026-11-27T10:00:00Z","payload":${J(tag)}}`;
  const ok = (id: string, slot: number, token: string): SlotOp => ({ kind: "ack", id, slot, token, outcome: "ok" });
  const failed = (id: string, slot: number, token: string): SlotOp => ({ kind: "ack", id, slot, token, outcome: "fail", failure: { exception: "E", error: "boom", backtrace: ["a.ts:1"] }, queue: "q", raw: J(id) });

  async function slots(): Promise<ReturnType<typeof makeKeys>> {
    const k = makeKeys(ns);
    await c.set(k.worker("w0"), state("done-ok"));
    await c.set(k.worker("w1"), state("done-fail"));
    await c.set(k.worker("w2"), state("still-running"));
    await c.set(k.worker("w3"), state("another job"));
    await c.send("HSET", [k.lanes(proc), ...tokenFields(["5", "5", "5", "9"])]);
    await c.hset(k.processes, proc, JSON.stringify(["w0", "w1", "w2", "w3"]));
    return k;
  }

  test("a worker killed between keep and release: each job is kept or handed back, never both; the next start records the kept ones", async () => {
    const k = await slots();
    // w3's ack names token 7 but the slot holds token 9's job: that job did not finish, it is left for release.
    const kept = await keepOutcomes(c, k, { proc, failedAt: "2026/11/27 10:00:01 UTC", ops: [ok("w0", 0, "5"), failed("w1", 1, "5"), ok("w3", 3, "7")] });
    expect(kept).toBe(2);
    expect(await c.exists(k.worker("w0"))).toBe(false);
    expect(await c.exists(k.worker("w1"))).toBe(false);
    // (killed here) a reaper's release hands back what is left: the unfinished job and the slot's other job.
    const r = await releaseProcess(c, k, { proc, mode: "requeue", failedAt: "x" });
    expect(r.requeued).toBe(2);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual([J("another job"), J("still-running")]);
    expect(await recordOutcomes(c, k)).toEqual({ processed: 2, failed: 1 });
    expect(await c.get(k.processed)).toBe("2");
    expect(await c.get(k.failedCount)).toBe("1");
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toEqual({ failed_at: "2026/11/27 10:00:01 UTC", payload: { class: "J", args: ["done-fail"] }, exception: "E", error: "boom", backtrace: ["a.ts:1"], worker: "w1", queue: "q" });
    expect(await c.exists(k.outcomes)).toBe(false);
    expect(await recordOutcomes(c, k)).toEqual({ processed: 0, failed: 0 });
  });

  test("an outcomes key of the wrong type: keep changes nothing (the jobs are handed back instead)", async () => {
    const k = await slots();
    await c.set(k.outcomes, "oops");
    await expect(keepOutcomes(c, k, { proc, failedAt: "x", ops: [ok("w0", 0, "5")] })).rejects.toBeInstanceOf(BadKeyError);
    expect(await c.get(k.worker("w0"))).toBe(state("done-ok"));
    expect(await c.get(k.outcomes)).toBe("oops");
  });

  test("record with an unusable counter or failed list changes nothing and names the key", async () => {
    const k = await slots();
    await keepOutcomes(c, k, { proc, failedAt: "x", ops: [ok("w0", 0, "5"), failed("w1", 1, "5")] });
    await c.hset(k.failed, "f", "v");
    const e = await recordOutcomes(c, k).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadKeyError);
    expect((e as BadKeyError).key).toBe(k.failed);
    expect(await c.llen(k.outcomes)).toBe(2);
    expect(await c.exists(k.processed)).toBe(false);
    await c.del(k.failed);
    await c.set(k.failedCount, "nope");
    await expect(recordOutcomes(c, k)).rejects.toBeInstanceOf(BadKeyError);
    expect(await c.llen(k.outcomes)).toBe(2);
    expect(await c.exists(k.processed)).toBe(false);
  });
});

describe("lane-cycle-6.lua: tampered tokens and gone states", () => {
  const proc = "host:2:inst";
  const J = '{"class":"J","args":[1]}';
  const base = { proc, lane: 0, runAt: "2026-11-27T10:00:00Z", failedAt: "2026/11/27 10:00:00 UTC" };
  async function fetched(): Promise<ReturnType<typeof makeKeys>> {
    const k = makeKeys(ns);
    await c.hset(k.beats, proc, "1");
    await c.rpush(k.queue("q"), J);
    const r = await laneCycle(c, k, { ...base, call: 1, ops: [], fill: [{ id: "w0", slot: 0 }], queues: ["q"] });
    expect(r.jobs).toHaveLength(1);
    return k;
  }

  for (const [name, tamper] of [
    ["overwritten with garbage", (k: ReturnType<typeof makeKeys>) => c.hset(k.lanes(proc), "t0", "garbage")],
    ["deleted", (k: ReturnType<typeof makeKeys>) => c.hdel(k.lanes(proc), "t0")],
    ["gone with the whole hash", (k: ReturnType<typeof makeKeys>) => c.del(k.lanes(proc))],
  ] as const) {
    test(`token field ${name}: the ack applies by slot and is reported as tampered`, async () => {
      const k = await fetched();
      await tamper(k);
      const r = await laneCycle(c, k, { ...base, call: 2, ops: [{ kind: "ack", id: "w0", slot: 0, token: "1", outcome: "ok" }], fill: [], queues: [] });
      expect(r.tampered).toBe(1);
      expect(r.gone).toEqual([]);
      expect(await c.exists(k.worker("w0"))).toBe(false);
      expect(await c.get(k.processed)).toBe("1");
    });
  }

  test("a state deleted under its job (token still its own): counted, reported as gone, the failure entry made from the ack", async () => {
    const k = await fetched();
    await c.del(k.worker("w0"));
    const failure = { exception: "E", error: "boom", backtrace: [] };
    const r = await laneCycle(c, k, { ...base, call: 2, ops: [{ kind: "ack", id: "w0", slot: 0, token: "1", outcome: "fail", failure, queue: "q", raw: J }], fill: [{ id: "w0", slot: 0 }], queues: ["q"] });
    expect(r.gone).toEqual(["w0"]);
    expect(r.tampered).toBe(0);
    expect(r.jobs).toEqual([]);
    expect(await c.get(k.processed)).toBe("1");
    expect(await c.get(k.processedBy("w0"))).toBe("1");
    expect(await c.get(k.failedCount)).toBe("1");
    expect(JSON.parse((await c.lindex(k.failed, 0)) as string)).toMatchObject({ payload: { class: "J", args: [1] }, exception: "E", error: "boom", worker: "w0", queue: "q" });
  });

  test("a token of another job (a failover's) with the state gone: nothing counted, nothing reported", async () => {
    const k = await fetched();
    await c.del(k.worker("w0"));
    await c.hset(k.lanes(proc), "t0", "7");
    const r = await laneCycle(c, k, { ...base, call: 2, ops: [{ kind: "ack", id: "w0", slot: 0, token: "1", outcome: "ok" }], fill: [], queues: [] });
    expect(r.gone).toEqual([]);
    expect(r.tampered).toBe(0);
    expect(await c.exists(k.processed)).toBe(false);
  });
});
