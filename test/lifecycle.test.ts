// Issue #16, point 4: onStart / onStop with real worker processes. onStart runs before the worker registers or
// fetches (a throw: one line, exit 1, nothing fetched or registered); onStop runs after the last job finished or
// was handed back and the worker unregistered, under SIGTERM, within the shutdown deadline.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { isolate, REDIS_URL, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const SCRIPT = new URL("./fixtures/lifecycle-worker.ts", import.meta.url).pathname;

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const events = () => c.lrange(`${ns}test:events`, 0, -1);
const job = (ms: number) => `{"class":"LifeJob","args":[${ms}]}`;
const worker = (extra: string[] = [], env: Record<string, string> = {}) =>
  spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=life", "--concurrency=2", "--heartbeat-interval=1", "--dead-after=3", ...extra], { script: SCRIPT, env });

test("SIGTERM: onStart ran before the first fetch; onStop runs after the running job finished, once unregistered", async () => {
  await c.rpush(`${ns}queue:life`, job(400));
  const w = worker();
  await waitFor(async () => (await events()).includes("job:start 400"), 15_000, "the job to start");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect(await events()).toEqual([
    "start1 queued=1 workers=0 slots=2",
    "start2",
    "job:start 400",
    "job:done 400",
    "stop2 queued=0 workers=0",
    "stop1 queued=0 workers=0",
  ]);
});

test("SIGTERM with a job past the shutdown deadline: onStop runs after it was handed back", async () => {
  await c.rpush(`${ns}queue:life`, job(60_000));
  const w = worker(["--shutdown-timeout=0.5"]);
  await waitFor(async () => (await events()).includes("job:start 60000"), 15_000, "the job to start");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  const ev = await events();
  expect(ev.slice(-2)).toEqual(["stop2 queued=1 workers=0", "stop1 queued=1 workers=0"]);
  expect(ev).not.toContain("job:done 60000");
  expect(await c.lrange(`${ns}queue:life`, 0, -1)).toEqual([job(60_000)]);
});

test("an onStop that never finishes is waited for until the shutdown deadline (at least 1 s), then the worker exits 0", async () => {
  const w = worker(["--shutdown-timeout=1"], { LIFECYCLE_SLOW_STOP: "1" });
  await waitFor(async () => (await events()).includes("start2"), 15_000, "start-up");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect((await events()).slice(-1)).toEqual(["stop2 queued=0 workers=0"]);
  expect(w.output()).toMatch(/onStop did not finish within 1\.0 s/);
});

test("a failing onStart: one line naming it, exit 1, nothing registered, nothing fetched, no onStop", async () => {
  await c.rpush(`${ns}queue:life`, job(1));
  const w = worker([], { LIFECYCLE_FAIL_START: "1" });
  expect(await w.exited).toBe(1);
  const errLines = w.output().split("\n").filter((l) => l.startsWith("bunworker:"));
  expect(errLines).toEqual(["bunworker: onStart failed: Error: the database is down"]);
  expect(await events()).toEqual(["start1 queued=1 workers=0 slots=2"]);
  expect(await c.lrange(`${ns}queue:life`, 0, -1)).toEqual([job(1)]);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect((await c.keys(`${ns}*`)).sort()).toEqual([`${ns}queue:life`, `${ns}test:events`]);
});

test("SIGTERM while an onStart never settles: exit 0, nothing registered or fetched, no onStop", async () => {
  await c.rpush(`${ns}queue:life`, job(1));
  const w = worker([], { LIFECYCLE_HANG_START: "1" });
  await waitFor(async () => (await events()).length === 1, 15_000, "onStart to begin");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect(w.output()).toMatch(/stopped while onStart ran: nothing was registered/);
  expect(await events()).toEqual(["start1 queued=1 workers=0 slots=2"]);
  expect(await c.lrange(`${ns}queue:life`, 0, -1)).toEqual([job(1)]);
  expect(await c.scard(`${ns}workers`)).toBe(0);
});

test("SIGTERM with a middleware that never settles: the job is handed back at the deadline, then onStop runs", async () => {
  await c.rpush(`${ns}queue:life`, job(-1));
  const w = worker(["--shutdown-timeout=0.5"]);
  await waitFor(async () => (await events()).includes("stuck"), 15_000, "the middleware to hold the job");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect((await events()).slice(-3)).toEqual(["stuck", "stop2 queued=1 workers=0", "stop1 queued=1 workers=0"]);
  expect(await c.lrange(`${ns}queue:life`, 0, -1)).toEqual([job(-1)]);
  expect([await c.get(`${ns}stat:processed`), await c.llen(`${ns}failed`)]).toEqual([null, 0]);
});
