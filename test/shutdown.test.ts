// Issue #4: the shutdown deadline, the second signal, and the job timeout, on a real worker process.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, client, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const args = (extra: string[]) => [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=sd", "--concurrency=2", ...extra];
const started = (tag: string) => waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).includes(tag), 5000, `${tag} to start`);

async function expectHandedBack(payload: string) {
  expect(await c.lindex(`${ns}queue:sd`, 0)).toBe(payload);
  expect(await c.get(`${ns}stat:processed`)).toBeNull();
  expect(await c.llen(`${ns}failed`)).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect(await c.keys(`${ns}worker:*`)).toEqual([]);
}

describe("shutdown deadline", () => {
  test("after the deadline a running job is aborted and goes back to the front of its queue; exit 0", async () => {
    const job = '{"class":"WaitForAbort","args":["stuck"]}';
    const w = spawnWorker(args(["--shutdown-timeout=0.5"]));
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:sd`, job);
    await started("stuck");
    await c.rpush(`${ns}queue:sd`, '{"class":"Record","args":["queued-behind"]}');
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 5000, "second job");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(await c.lrange(`${ns}test:aborted`, 0, -1)).toEqual(["stuck:ShutdownError"]);
    expect(await c.lrange(`${ns}queue:sd`, 0, -1)).toEqual([job]);
    expect(await c.get(`${ns}stat:processed`)).toBe("1");
    expect(await c.scard(`${ns}workers`)).toBe(0);
  });

  test("a second TERM ends the wait at once, with the same hand-back", async () => {
    const job = '{"class":"WaitForAbort","args":["long"]}';
    const w = spawnWorker(args(["--shutdown-timeout=600"]));
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:sd`, job);
    await started("long");
    w.signal("SIGTERM");
    await w.waitForOutput(/TERM received/);
    w.signal("SIGINT");
    expect(await w.exited).toBe(0);
    expect(w.output()).toContain("received again");
    await expectHandedBack(job);
  });

  test("a job that finishes within the deadline is acknowledged, not handed back", async () => {
    const w = spawnWorker(args(["--shutdown-timeout=5"]));
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:sd`, '{"class":"Slow","args":[300,"finishes"]}');
    await started("finishes");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["finishes"]);
    expect(await c.llen(`${ns}queue:sd`)).toBe(0);
    expect(await c.get(`${ns}stat:processed`)).toBe("1");
  });
});

describe("job timeout", () => {
  test("a job past --job-timeout fails with JobTimeoutError, its AbortSignal fires, and its slot runs the next job", async () => {
    const w = spawnWorker(args(["--job-timeout=0.3", "--concurrency=1"]));
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:sd`, '{"class":"WaitForAbort","args":["slowpoke"]}', '{"class":"Never","args":[]}', '{"class":"Record","args":["next"]}');
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 5000, "the job after two timeouts");
    const failures = ((await c.lrange(`${ns}failed`, 0, -1)) as string[]).map((e) => JSON.parse(e));
    expect(failures.map((f) => [f.payload.class, f.exception])).toEqual([["WaitForAbort", "JobTimeoutError"], ["Never", "JobTimeoutError"]]);
    expect(failures[0].error).toContain("--job-timeout 0.3 s");
    expect(await c.lrange(`${ns}test:aborted`, 0, -1)).toEqual(["slowpoke:JobTimeoutError"]);
    expect(await c.get(`${ns}stat:failed`)).toBe("2");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
  });
});
