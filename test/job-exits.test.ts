// Issue #14, point 3: job code that calls process.exit() or process.abort(), or throws where the runner cannot
// catch it (a timer), never ends the worker silently: the job fails with a message naming what it did, the other
// slots' jobs finish, and nothing loops. Point 1: with --job-timeout, a job that keeps the event loop blocked past
// it ends the process (non-zero, one line naming the job), is recorded as failed, and the restarted worker
// recovers the other jobs at once. Real worker processes (test/fixtures/hostile-worker.ts).
import { afterEach, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const HOSTILE = new URL("./fixtures/hostile-worker.ts", import.meta.url).pathname;

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

const job = (cls: string, ...args: unknown[]) => JSON.stringify({ class: cls, args });
const runs = async () => (await c.hgetall(`${ns}test:runs`)) as Record<string, string>;
const worker = (args: string[], env: Record<string, string> = {}) =>
  spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--command-timeout=2", "--shutdown-timeout=5", ...args], { script: HOSTILE, env });
const failures = async () => ((await c.lrange(`${ns}failed`, 0, -1)) as string[]).map((f) => JSON.parse(f) as { payload: { class: string; args: unknown[] }; exception: string; error: string });

test("process.exit(0), process.exit from a timer, process.abort() and a throw from a timer each fail their job; the worker and its other jobs go on", async () => {
  await c.rpush(`${ns}queue:x`,
    job("Count", "c1", 1500), job("Exit", "e1", 0), job("Count", "c2", 1500), job("ExitLater", "x1"),
    job("Count", "c3", 1500), job("Abort", "a1"), job("ThrowLater", "t1"), job("Exit", "e2", 1));
  const w = worker(["--queues=x", "--concurrency=8"]);
  await waitFor(async () => (await c.llen(`${ns}test:done`)) === 3 && (await c.llen(`${ns}failed`)) === 5, 20_000, "three jobs done and five failed");
  expect(w.proc.exitCode).toBeNull(); // still running
  // One run each: none of them was handed back to run again, as a worker that exited would have.
  expect(await runs()).toEqual({ c1: "1", c2: "1", c3: "1", e1: "1", x1: "1", a1: "1", t1: "1", e2: "1" });
  const byId = Object.fromEntries((await failures()).map((f) => [f.payload.args[0], f]));
  expect(byId.e1).toMatchObject({ exception: "ProcessExitError", error: expect.stringContaining("the job called process.exit(0)") });
  expect(byId.e2).toMatchObject({ exception: "ProcessExitError", error: expect.stringContaining("process.exit(1)") });
  expect(byId.x1).toMatchObject({ exception: "ProcessExitError", error: expect.stringContaining("process.exit(3)") });
  expect(byId.a1).toMatchObject({ exception: "ProcessAbortError", error: expect.stringContaining("process.abort()") });
  expect(byId.t1).toMatchObject({ exception: "RangeError", error: expect.stringContaining("from a timer of t1 (thrown outside the job's own call") });
  expect(await c.get(`${ns}stat:processed`)).toBe("8");
  expect(await c.get(`${ns}stat:failed`)).toBe("5");
  // It still takes jobs.
  await c.rpush(`${ns}queue:x`, job("Count", "c4", 10));
  await waitFor(async () => (await runs()).c4 === "1", 10_000, "a job after the exits");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect(w.output()).not.toMatch(/uncaught exception/);
}, 40_000);

test("a job that always exits is one failure record, not a crash loop", async () => {
  await c.rpush(`${ns}queue:x`, job("Exit", "e1", 0));
  const w = worker(["--queues=x", "--concurrency=2", "--exit-on-complete"]);
  expect(await w.exited).toBe(0);
  expect(await runs()).toEqual({ e1: "1" });
  expect((await failures()).map((f) => f.exception)).toEqual(["ProcessExitError"]);
  expect(await c.llen(`${ns}queue:x`)).toBe(0);
}, 20_000);

test("--job-timeout: a job whose synchronous loop outlasts it ends the process (non-zero, one line naming it), is recorded as failed, and the restart recovers the others at once", async () => {
  dir = mkdtempSync(join(tmpdir(), "bw-exits-"));
  const ledger = join(dir, "runs");
  await c.rpush(`${ns}queue:t`, job("Count", "c1", 3000), job("SpinNow", "s1", 60_000));
  const w = worker(["--queues=t", "--concurrency=2", "--job-timeout=1", "--heartbeat-interval=0.5", "--dead-after=20"], { RUNS_FILE: ledger });
  const code = await w.exited;
  expect(code).not.toBe(0);
  const lines = w.output().split("\n").filter((l) => /blocked the event loop/.test(l));
  expect(lines).toEqual([expect.stringMatching(/^bunworker: job SpinNow from queue t \(worker \S+; recorded as failed\) has blocked the event loop for 1\.\d s, past --job-timeout 1 s: ending the worker process/)]);
  expect((await failures()).map((f) => [f.payload.class, f.exception])).toEqual([["SpinNow", "JobTimeoutError"]]);
  // Restarted (as systemd or the supervisor would): the dead predecessor's pid is gone, so its running job goes
  // back at once (not after --dead-after=20), and the loop is not run again.
  const again = worker(["--queues=t", "--concurrency=2", "--exit-on-complete", "--heartbeat-interval=0.5", "--dead-after=20"], { RUNS_FILE: ledger });
  expect(await again.exited).toBe(0);
  expect(again.output()).toMatch(/is dead: 1 job\(s\) back to their queues/);
  expect(await c.lrange(`${ns}test:done`, 0, -1)).toEqual(["c1"]);
  expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual(["s1"]);
  expect(await c.llen(`${ns}queue:t`)).toBe(0);
}, 40_000);

test("--job-timeout: a loop after the job's first await, the only job running, is named and recorded as failed too", async () => {
  await c.rpush(`${ns}queue:t`, job("Spin", "s1", 60_000));
  const w = worker(["--queues=t", "--concurrency=2", "--job-timeout=1", "--heartbeat-interval=0.5", "--dead-after=20"]);
  expect(await w.exited).not.toBe(0);
  expect(w.output().split("\n").filter((l) => /blocked/.test(l))).toEqual([
    expect.stringMatching(/^bunworker: job Spin from queue t \(worker \S+; recorded as failed\) has blocked the event loop for \d+\.\d s, past --job-timeout 1 s: ending the worker process/),
  ]);
  expect((await failures()).map((f) => [f.payload.class, f.exception])).toEqual([["Spin", "JobTimeoutError"]]);
  expect(await runs()).toEqual({ s1: "1" });
  expect(await c.llen(`${ns}queue:t`)).toBe(0);
}, 30_000);

test("--job-timeout: a loop after a first await while other jobs run (which job cannot be told from the thread) ends the process with one line saying so; the restart recovers every job", async () => {
  await c.rpush(`${ns}queue:t`, job("Count", "c1", 60_000), job("Spin", "s1", 60_000));
  const w = worker(["--queues=t", "--concurrency=2", "--job-timeout=1", "--heartbeat-interval=0.5", "--dead-after=20"]);
  expect(await w.exited).not.toBe(0);
  expect(w.output().split("\n").filter((l) => /blocked/.test(l))).toEqual([
    expect.stringMatching(/^bunworker: the event loop has been blocked for \d+\.\d s, past --job-timeout 1 s, by job code after its first call .*: ending the worker process/),
  ]);
  expect(await runs()).toEqual({ c1: "1", s1: "1" });
  // Without a name nothing was recorded as failed: the restart hands both back at once, as a dead process's jobs.
  expect(await c.llen(`${ns}failed`)).toBe(0);
  const again = worker(["--queues=other", "--concurrency=1", "--exit-on-complete", "--heartbeat-interval=0.5", "--dead-after=20"]);
  expect(await again.exited).toBe(0);
  expect(again.output()).toMatch(/is dead: 2 job\(s\) back to their queues/);
  expect(await c.llen(`${ns}queue:t`)).toBe(2);
}, 30_000);
