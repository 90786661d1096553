// Issue #9 point 10: a program written as the README shows (`await work()` at top level, no try/catch) ends a
// failed start-up with one line `bunworker: <message>` and status 1, never a stack trace; work(settings)
// still rejects, as an API call should. A Redis at maxmemory is waited out: one warning, then the worker
// registers as soon as Redis takes writes again.
import { afterEach, describe, expect, test } from "bun:test";
import { client, freePort, freshNamespace, startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const BARE_WORKER = new URL("./fixtures/bare-worker.ts", import.meta.url).pathname;
const INDEX = new URL("../src/index.ts", import.meta.url).pathname;

let server: PrivateRedis | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function redisWithPassword(password: string): Promise<PrivateRedis> {
  server = await startRedis();
  const admin = client(server.url);
  try {
    // Not --requirepass at launch: the helper's readiness check connects without a password.
    await admin.send("CONFIG", ["SET", "requirepass", password]);
  } finally {
    admin.close();
  }
  return server;
}

/** Exactly one line on stdout and stderr together, and nothing that looks like a stack trace. */
function expectOneLine(output: string, pattern: RegExp): void {
  const lines = output.trim().split("\n");
  expect(lines).toEqual([expect.stringMatching(pattern)]);
  expect(output).not.toMatch(/^\s+at /m);
}

describe("work() from the command line, without try/catch", () => {
  test("a wrong password: one line, status 1, no stack trace, no password", async () => {
    const redis = await redisWithPassword("right-pass-71");
    const w = spawnWorker(["--queues=q", `--uri=redis://:wrong-pass-38@127.0.0.1:${redis.port}/`], { script: BARE_WORKER });
    expect(await w.exited).toBe(1);
    expectOneLine(w.output(), new RegExp(`^bunworker: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/: WRONGPASS`));
    expect(w.output()).not.toContain("wrong-pass-38");
  });

  test("an unreachable Redis: one line, status 1", async () => {
    const port = await freePort();
    const w = spawnWorker(["--queues=q", `--uri=redis://127.0.0.1:${port}/`, "--command-timeout=0.3"], { script: BARE_WORKER });
    expect(await w.exited).toBe(1);
    expectOneLine(w.output(), new RegExp(`^bunworker: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/: `));
  });

  test("a bad flag still exits 2 with the usage line", async () => {
    const w = spawnWorker(["--queues=q", "--concurrency=0"], { script: BARE_WORKER });
    expect(await w.exited).toBe(2);
    expect(w.output().trim().split("\n")).toEqual([expect.stringMatching(/^bunworker: --concurrency/), expect.stringMatching(/^usage: /)]);
  });
});

test("work(settings) with explicit settings still rejects with the error", async () => {
  const redis = await redisWithPassword("right-pass-52");
  const program = `
    import { work } from ${JSON.stringify(INDEX)};
    work({ queues: ["q"], uri: "redis://:wrong@127.0.0.1:${redis.port}/" }).then(
      () => console.log("resolved"),
      (e) => console.log("rejected: " + e.name + ": " + e.message),
    );`;
  const w = spawnWorker([], { cmd: [process.execPath, "-e", program] });
  expect(await w.exited).toBe(0);
  expect(w.output()).toMatch(/^rejected: ConnectionError: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/: WRONGPASS/);
});

describe("Redis at maxmemory (noeviction) at start-up", () => {
  async function fullRedis(): Promise<{ redis: PrivateRedis; admin: ReturnType<typeof client> }> {
    server = await startRedis();
    const admin = client(server.url);
    await admin.send("CONFIG", ["SET", "maxmemory", "1"]);
    return { redis: server, admin };
  }

  /** Write probes Redis refused, from its command statistics: proof that the worker retried. */
  async function refusedProbes(admin: ReturnType<typeof client>): Promise<number> {
    const info = (await admin.send("INFO", ["commandstats"])) as string;
    return Number(/cmdstat_eval:.*rejected_calls=(\d+)/.exec(info)?.[1] ?? 0);
  }

  test("one warning, retries until Redis takes writes, then starts and runs jobs", async () => {
    const { redis, admin } = await fullRedis();
    const ns = freshNamespace();
    try {
      const w = spawnWorker(["--queues=q", `--uri=${redis.url}`, `--namespace=${ns}`, "--concurrency=1"], { script: BARE_WORKER });
      await w.waitForOutput(/out of memory/);
      await waitFor(async () => (await refusedProbes(admin)) >= 4, 10_000, "several refused write probes");
      expect(await admin.scard(`${ns}workers`)).toBe(0);
      await admin.send("CONFIG", ["SET", "maxmemory", "0"]);
      await w.waitForOutput(/started/);
      await admin.rpush(`${ns}queue:q`, '{"class":"Noop","args":[]}');
      await waitFor(async () => (await admin.get(`${ns}stat:processed`)) === "1", 5000, "the job to run");
      w.signal("SIGTERM");
      expect(await w.exited).toBe(0);
      expect(w.output().match(/out of memory/g)).toHaveLength(1);
      expect(w.output()).toMatch(/WARN .*Redis at redis:\/\/127\.0\.0\.1:\d+ is out of memory \(OOM command not allowed/);
      expect(w.output()).toMatch(/takes writes again/);
      expect(w.output()).not.toMatch(/ERROR|^\s+at /m);
    } finally {
      admin.close();
    }
  }, 30_000);

  test("TERM while waiting: exits 0 at once, having registered nothing", async () => {
    const { redis, admin } = await fullRedis();
    const ns = freshNamespace();
    try {
      const w = spawnWorker(["--queues=q", `--uri=${redis.url}`, `--namespace=${ns}`], { script: BARE_WORKER });
      await w.waitForOutput(/out of memory/);
      w.signal("SIGTERM");
      expect(await w.exited).toBe(0);
      expect(w.output()).toContain("stopped before start-up finished");
      await admin.send("CONFIG", ["SET", "maxmemory", "0"]);
      expect(await admin.keys(`${ns}*`)).toEqual([]);
    } finally {
      admin.close();
    }
  }, 30_000);
});
