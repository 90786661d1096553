// Issue #14, liveness: a live worker is never declared dead. Real worker processes (test/fixtures/hostile-worker.ts)
// beside each other, with jobs that block their event loop for several times --dead-after and with mixed
// heartbeat settings; each job counts its runs in <ns>test:runs, and every job must have run exactly once.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { findUnshare, innerPid } from "./helpers/pidns";
import { startSentinels } from "./helpers/sentinel";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const HOSTILE = new URL("./fixtures/hostile-worker.ts", import.meta.url).pathname;

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const job = (cls: string, ...args: unknown[]) => JSON.stringify({ class: cls, args });
const runs = async () => (await c.hgetall(`${ns}test:runs`)) as Record<string, string>;
const worker = (args: string[], cmd?: string[]) =>
  spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--command-timeout=2", "--shutdown-timeout=5", ...args], cmd ? { cmd: [...cmd, process.execPath, HOSTILE] } : { script: HOSTILE });

/** Nothing left to run: the queues are empty and no slot holds a job (Resque's `working`). */
async function settled(queues: string[]): Promise<boolean> {
  for (const q of queues) if ((await c.llen(`${ns}queue:${q}`)) > 0) return false;
  const ids = (await c.smembers(`${ns}workers`)) as string[];
  if (ids.length === 0) return true;
  const states = (await c.send("MGET", ids.map((id) => `${ns}worker:${id}`))) as (string | null)[];
  return states.every((s) => !s);
}

async function stop(...ws: WorkerProcess[]): Promise<void> {
  // A worker under unshare gets the signal itself (unshare would take it with SIGKILL).
  for (const w of ws) process.kill(innerPid(w) ?? w.pid, "SIGTERM");
  for (const w of ws) expect(await w.exited).toBe(0);
}

describe("a job that blocks the event loop several times longer than --dead-after", () => {
  test("two workers, each with a 5 s synchronous loop (--dead-after=1): neither is reaped, every job runs once, the block is named once", async () => {
    // Each worker holds a 1 s job beside its loop: a reaper that took the blocked worker for dead would hand that
    // job (and the loop) back, and they would run again.
    await c.rpush(`${ns}queue:a`, job("Count", "a1", 1000), job("SpinNow", "s1", 5000));
    await c.rpush(`${ns}queue:b`, job("Count", "b1", 1000), job("Spin", "s2", 5000));
    const flags = ["--heartbeat-interval=0.5", "--dead-after=1", "--concurrency=2"];
    const w1 = worker(["--queues=a", ...flags]);
    const w2 = worker(["--queues=b", ...flags]);
    await waitFor(async () => (await c.lrange(`${ns}test:done`, 0, -1)).length >= 3 && (await runs()).s1 && (await settled(["a", "b"])), 30_000, "every job to finish");
    // Past the moment a wrongly reaped worker would have re-registered and taken its jobs again.
    await Bun.sleep(1500);
    await stop(w1, w2);
    expect(await runs()).toEqual({ a1: "1", s1: "1", b1: "1", s2: "1" });
    expect(await c.llen(`${ns}failed`)).toBe(0);
    // Nor is the block taken for a Redis outage (timers that fire late, a connect that timed out meanwhile).
    for (const w of [w1, w2]) expect(w.output()).not.toMatch(/is dead|unavailable|timed out|retrying/);
    // Said once each: the job itself when its first call blocked, the lateness when code after an await did.
    expect(w1.output().match(/job SpinNow from queue a blocked the event loop for [4-6]\.\d s/g)?.length).toBe(1);
    expect(w2.output().match(/the event loop was blocked for [4-6]\.\d s by job code after its first call/g)?.length).toBe(1);
  }, 60_000);

  test("its beats go on while the loop is blocked (the beat thread), so a worker that cannot see its pid does not reap it either", async () => {
    await c.rpush(`${ns}queue:a`, job("Spin", "s1", 7000));
    const w = worker(["--queues=a", "--heartbeat-interval=0.5", "--dead-after=1", "--concurrency=1"]);
    await waitFor(async () => (await runs()).s1, 15_000, "the loop to start");
    const beats = async () => Object.values((await c.hgetall(`${ns}bunworker:beats`)) as Record<string, string>)[0] ?? "";
    const first = await beats();
    const inLoop = await waitFor(async () => ((await beats()) !== first ? await beats() : null), 3000, "a beat while the loop runs");
    expect(await c.llen(`${ns}test:done`)).toBe(0); // still in the loop
    // The beat says how long it stays valid: this worker's --dead-after.
    expect(inLoop.split("|")).toHaveLength(6);
    expect(inLoop.split("|")[5]).toBe("1000");
    // Resque's own heartbeat of the slot too, which Ruby's prune judges it by (one-second resolution).
    const resque = async () => Object.values((await c.hgetall(`${ns}workers:heartbeat`)) as Record<string, string>)[0] ?? "";
    const before = await resque();
    await waitFor(async () => (await resque()) !== before, 3000, "a Resque heartbeat while the loop runs");
    expect(await c.llen(`${ns}test:done`)).toBe(0);
    await waitFor(async () => (await c.llen(`${ns}test:done`)) === 1, 10_000, "the loop to end");
    await stop(w);
  }, 30_000);

  test("through Redis Sentinel (with passwords) too: the beat thread is told the primary's address", async () => {
    const set = await startSentinels({ password: "pri-pw", sentinelPassword: "sen-pw" });
    try {
      const pc = set.client(set.primary.port);
      await pc.rpush("resque:queue:a", job("Spin", "s1", 4000));
      const w = spawnWorker([`--uri=${set.uri()}`, "--queues=a", "--heartbeat-interval=0.5", "--dead-after=1", "--concurrency=1", "--command-timeout=2"], { script: HOSTILE });
      await waitFor(async () => (await pc.hget("resque:test:runs", "s1")) === "1", 15_000, "the loop to start");
      const beats = async () => Object.values((await pc.hgetall("resque:bunworker:beats")) as Record<string, string>)[0] ?? "";
      const first = await beats();
      await waitFor(async () => (await beats()) !== first, 3000, "a beat while the loop runs");
      expect(await pc.llen("resque:test:done")).toBe(0);
      await waitFor(async () => (await pc.llen("resque:test:done")) === 1, 10_000, "the loop to end");
      w.signal("SIGTERM");
      expect(await w.exited).toBe(0);
      expect(w.output()).not.toMatch(/pri-pw|sen-pw/);
      pc.close();
    } finally {
      await set.stop();
    }
  }, 60_000);

  const unshare = findUnshare();
  test.skipIf("why" in unshare)("a worker in another pid namespace (another host, as far as the reaper can tell) blocking for 5 s is not reaped: its jobs run once", async () => {
    const cmd = (unshare as { cmd: string[] }).cmd;
    await c.rpush(`${ns}queue:a`, job("Count", "a1", 1000), job("SpinNow", "s1", 5000));
    const flags = ["--heartbeat-interval=0.5", "--dead-after=1.5"];
    const blocked = worker(["--queues=a", "--concurrency=2", ...flags], cmd);
    await waitFor(async () => (await runs()).a1, 15_000, "the blocked worker to take its jobs");
    const reaper = worker(["--queues=b", "--concurrency=1", ...flags]);
    await reaper.waitForOutput(/started:/);
    await waitFor(async () => (await runs()).s1 && (await settled(["a"])), 30_000, "the blocked worker's jobs to finish");
    await Bun.sleep(1500);
    await stop(blocked, reaper);
    expect(await runs()).toEqual({ a1: "1", s1: "1" });
    expect(reaper.output()).not.toMatch(/is dead/);
  }, 60_000);
});

describe("mixed --heartbeat-interval and --dead-after in one fleet", () => {
  test("--dead-after=3 beside a worker on the defaults (a beat every 20 s): the default worker is never reaped, its 6 s job runs once", async () => {
    await c.rpush(`${ns}queue:m`, job("Count", "m1", 6000));
    const slow = worker(["--queues=m", "--concurrency=2"]);
    await waitFor(async () => (await runs()).m1, 15_000, "the default worker to take its job");
    const fast = worker(["--queues=m", "--concurrency=2", "--heartbeat-interval=1", "--dead-after=3"]);
    await fast.waitForOutput(/started:/);
    await waitFor(async () => (await c.lrange(`${ns}test:done`, 0, -1)).includes("m1") && (await settled(["m"])), 20_000, "the job to finish");
    await Bun.sleep(1500);
    await stop(slow, fast);
    expect(await runs()).toEqual({ m1: "1" });
    expect(fast.output()).not.toMatch(/is dead/);
  }, 40_000);

  test("a stopped worker (SIGSTOP) on the same host is still reaped once its beat has expired", async () => {
    await c.rpush(`${ns}queue:m`, job("Count", "m1", 60_000));
    const frozen = worker(["--queues=m", "--concurrency=1", "--heartbeat-interval=0.5", "--dead-after=1"]);
    await waitFor(async () => (await runs()).m1, 15_000, "the job to start");
    frozen.signal("SIGSTOP");
    const reaper = worker(["--queues=other", "--concurrency=1", "--heartbeat-interval=0.5", "--dead-after=1"]);
    await reaper.waitForOutput(/worker process \S+ is dead: 1 job\(s\) back to their queues/, 15_000);
    expect(await c.llen(`${ns}queue:m`)).toBe(1);
    frozen.signal("SIGKILL");
    await frozen.exited;
    await stop(reaper);
  }, 40_000);
});
