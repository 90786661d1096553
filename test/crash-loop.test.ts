// Issue #14, point 3's last gap: a crash nothing in the process can intercept (a native segfault, SIGKILL from job
// code, process.reallyExit) hands the job back at the next start, so a job that always crashes would loop for
// ever. release-5.lua counts, per payload, the deaths of processes that were running it; the CRASH_LIMIT-th
// death makes it one Bunworker::CrashedWorker failure entry that keeps its bytes, instead of another hand-back.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys, type Keys } from "../src/keys";
import { CRASH_LIMIT, CRASH_WINDOW_S, releaseProcess } from "../src/scripts";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const HOSTILE = new URL("./fixtures/hostile-worker.ts", import.meta.url).pathname;

let c: RedisClient;
let ns: string;
let k: Keys;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
  k = makeKeys(namespace);
});

const proc = "host:1:i";
const id = "host:1:q:0.i";
const J = '{"class":"Crasher","args":[1,"x"]}';
/** The process holds J in its one slot, as lane-cycle leaves it. */
async function holding(payload = J) {
  await c.hset(k.processes, proc, JSON.stringify([id]));
  await c.sadd(k.workers, id);
  await c.set(k.worker(id), `{"queue":"q","run_at":"2026-11-27T10:00:00Z","payload":${payload}}`);
}
const sha1 = (s: string) => new Bun.CryptoHasher("sha1").update(s).digest("hex");
const release = (crashLimit: number) => releaseProcess(c, k, { proc, mode: "requeue", failedAt: "2026/12/02 10:00:00 UTC", crashLimit });

test(`release: the deaths of processes running a job are counted, and death number ${CRASH_LIMIT} makes a CrashedWorker failure keeping its bytes`, async () => {
  expect(CRASH_LIMIT).toBe(3);
  const counter = `${k.crashesPrefix}${sha1(J)}`;
  for (let death = 1; death < CRASH_LIMIT; death++) {
    await holding();
    expect(await release(CRASH_LIMIT)).toEqual({ requeued: 1, failed: 0, unregistered: 1 });
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual([J]);
    expect(await c.get(counter)).toBe(String(death));
    const ttl = await c.ttl(counter);
    expect(ttl).toBeGreaterThan(CRASH_WINDOW_S - 10);
    expect(ttl).toBeLessThanOrEqual(CRASH_WINDOW_S);
    await c.del(k.queue("q"));
  }
  await holding();
  expect(await release(CRASH_LIMIT)).toEqual({ requeued: 0, failed: 1, unregistered: 1 });
  expect(await c.llen(k.queue("q"))).toBe(0);
  const failed = (await c.lrange(k.failed, 0, -1)) as string[];
  expect(failed).toEqual([
    `{"failed_at":"2026/12/02 10:00:00 UTC","payload":${J},"exception":"Bunworker::CrashedWorker","error":"the worker process died 3 times while running this Crasher job (last: ${id}); not handed back again","backtrace":[],"worker":"${id}","queue":"q"}`,
  ]);
  expect(await c.exists(counter)).toBe(false);
  expect(await c.exists(k.worker(id))).toBe(false);
});

test("release at our own shutdown counts nothing; a counter of the wrong type counts as none and is replaced", async () => {
  const counter = `${k.crashesPrefix}${sha1(J)}`;
  await holding();
  expect(await release(0)).toEqual({ requeued: 1, failed: 0, unregistered: 1 });
  expect(await c.exists(counter)).toBe(false);
  await c.del(k.queue("q"));
  await c.hset(counter, "planted", "by the test");
  await holding();
  expect(await release(CRASH_LIMIT)).toEqual({ requeued: 1, failed: 0, unregistered: 1 });
  expect(await c.get(counter)).toBe("1");
  // An unusable failed list: the CrashedWorker entry cannot be written, so nothing is (all or nothing).
  await c.set(counter, String(CRASH_LIMIT - 1));
  await c.del(k.queue("q"));
  await c.hset(k.failed, "planted", "by the test");
  await holding();
  await expect(release(CRASH_LIMIT)).rejects.toThrow(/failed is a hash, not a list/);
  expect(await c.get(counter)).toBe(String(CRASH_LIMIT - 1));
  expect(await c.exists(k.worker(id))).toBe(true);
  expect(await c.llen(k.queue("q"))).toBe(0);
});

test("a job that SIGKILLs its own process, restarted each time as systemd would: one CrashedWorker entry after 3 deaths, every other job runs once", async () => {
  const crasher = JSON.stringify({ class: "KillSelf", args: ["k1", 400] });
  const counts = Array.from({ length: 8 }, (_, i) => JSON.stringify({ class: "Count", args: [`c${i}`, 10] }));
  await c.rpush(`${ns}queue:x`, crasher, ...counts);
  const launch = () => spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=x", "--concurrency=2", "--heartbeat-interval=1", "--shutdown-timeout=5"], { script: HOSTILE });
  // Restart=always: each death is followed by a start, whose reaper releases the dead predecessor at once.
  const deaths: unknown[] = [];
  let w = launch();
  for (let starts = 1; ; starts++) {
    const outcome = await Promise.race([w.exited.then(() => "exited"), waitFor(async () => (await c.llen(`${ns}failed`)) >= 1, 20_000, "a death or the failure entry").then(() => "failed")]);
    if (outcome === "failed") break;
    deaths.push(w.proc.signalCode);
    if (starts > CRASH_LIMIT + 1) throw new Error(`still crashing after ${starts} starts:\n${w.output()}`);
    w = launch();
  }
  expect(deaths).toEqual(["SIGKILL", "SIGKILL", "SIGKILL"]);
  // The log line may reach us a moment after the entry reaches Redis.
  await w.waitForOutput(/is dead: 0 job\(s\) back to their queues, 1 failed/);
  // After it, the worker still takes jobs.
  await c.rpush(`${ns}queue:x`, JSON.stringify({ class: "Count", args: ["after", 10] }));
  await waitFor(async () => (await c.hget(`${ns}test:runs`, "after")) === "1", 15_000, "a job after the failure");
  const runs = (await c.hgetall(`${ns}test:runs`)) as Record<string, string>;
  expect(runs).toEqual({ k1: "3", after: "1", ...Object.fromEntries(counts.map((_, i) => [`c${i}`, "1"])) });
  const failed = ((await c.lrange(`${ns}failed`, 0, -1)) as string[]).map((f) => JSON.parse(f) as { payload: unknown; exception: string; error: string; queue: string });
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ payload: JSON.parse(crasher), exception: "Bunworker::CrashedWorker", queue: "x", error: expect.stringContaining("died 3 times while running this KillSelf job") });
  expect(await c.llen(`${ns}queue:x`)).toBe(0);
  expect(await c.keys(`${ns}bunworker-crashes:*`)).toEqual([]);
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
}, 90_000);
