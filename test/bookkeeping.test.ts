// Issue #14, point 4 (and 8's state row): a finished job never runs again because of a bookkeeping fault. Each
// row of the table, tried on real worker processes: a key the acks write made unusable mid-drain stops
// the worker, and the jobs it had finished are kept (not handed back) and recorded by the next start; the lanes
// hash or its tokens field tampered with mid-drain is logged and runs nothing twice; a worker state deleted
// under a running job is logged and the job still counts.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys } from "../src/keys";
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

for (const tamper of ["the tokens field overwritten", "the tokens field deleted", "the lanes hash deleted"]) {
  test(`${tamper} mid-drain: a log line names it and 0 jobs run twice`, async () => {
    await fill();
    const w = worker(["--exit-on-complete"]);
    await waitFor(async () => (await processed()) >= 20, 20_000, "20 jobs processed");
    const lanes = (await c.keys(`${ns}bunworker:lanes:*`)) as string[];
    expect(lanes.length).toBe(1);
    const key = lanes[0] as string;
    if (tamper.endsWith("overwritten")) await c.hset(key, "tokens", "garbage,,x,y,z,w");
    else if (tamper.endsWith("field deleted")) await c.hdel(key, "tokens");
    else await c.del(key);
    expect(await w.exited).toBe(0);
    const r = await runs();
    expect(r.twice).toEqual([]);
    expect(r.total).toBe(JOBS);
    expect(await processed()).toBe(JOBS);
    expect(w.output()).toContain(`${key}: `);
    expect(w.output()).toMatch(/had no valid token in its "tokens" field/);
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
