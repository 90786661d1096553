// Issue #2: a real child process of the worker receives jobs pushed with plain RPUSH, and each of QUIT, TERM
// and INT stops fetching at once, lets running jobs finish, unregisters and exits 0.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, client, isolate, waitFor } from "./helpers/redis";
import { MAIN_WORKER, spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const args = (extra: string[] = []) => [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=sig", "--concurrency=2", ...extra];

describe("a worker.ts child process", () => {
  test("runs jobs pushed with plain RPUSH (the jobs/ modules are loaded) and stops on TERM", async () => {
    const w = spawnWorker(args(), { script: MAIN_WORKER });
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:sig`, '{"class":"Greet","args":["Ada"]}', '{"class":"ChargeCard","args":[99999]}');
    await w.waitForOutput(/hello, Ada/);
    await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "2", 5000, "2 processed");
    expect(JSON.parse((await c.lindex(`${ns}failed`, 0)) as string).exception).toBe("PaymentDeclined");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(await c.scard(`${ns}workers`)).toBe(0);
  });

  for (const sig of ["SIGQUIT", "SIGTERM", "SIGINT"] as const) {
    test(`${sig}: stops fetching at once, the running job finishes, the worker unregisters and exits 0`, async () => {
      const w = spawnWorker(args());
      await w.waitForOutput(/started/);
      await c.rpush(`${ns}queue:sig`, '{"class":"Slow","args":[400,"running"]}');
      await waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).includes("running"), 5000, "job start");
      w.signal(sig);
      await w.waitForOutput(/received/);
      await c.rpush(`${ns}queue:sig`, '{"class":"Slow","args":[1,"after-signal"]}');
      expect(await w.exited).toBe(0);
      expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["running"]);
      expect(await c.lrange(`${ns}queue:sig`, 0, -1)).toEqual(['{"class":"Slow","args":[1,"after-signal"]}']);
      expect(await c.get(`${ns}stat:processed`)).toBe("1");
      expect(await c.scard(`${ns}workers`)).toBe(0);
      expect(await c.hlen(`${ns}workers:heartbeat`)).toBe(0);
      expect(await c.hlen(`${ns}bunworker:processes`)).toBe(0);
      expect(await c.keys(`${ns}worker:*`)).toEqual([]);
      expect(w.output()).toContain("stopped");
    });
  }

  test("USR2 pauses fetching and CONT resumes, as in Resque", async () => {
    const w = spawnWorker(args(["--heartbeat-interval=0.2"]));
    await w.waitForOutput(/started/);
    w.signal("SIGUSR2");
    await w.waitForOutput(/USR2 received/);
    await c.rpush(`${ns}queue:sig`, '{"class":"Record","args":["paused"]}');
    // The job must still be queued after the worker has had every chance to take it: a heartbeat and more.
    const beats = await c.hget(`${ns}bunworker:beats`, `${(await c.hkeys(`${ns}bunworker:processes`))[0]}`);
    await waitFor(async () => (await c.hget(`${ns}bunworker:beats`, (await c.hkeys(`${ns}bunworker:processes`))[0] as string)) !== beats, 10_000, "a heartbeat");
    expect(await c.llen(`${ns}queue:sig`)).toBe(1);
    w.signal("SIGCONT");
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 5000, "job after CONT");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
  });
});

describe("command line", () => {
  test("a bad flag exits 2 with one line naming it and the usage line", async () => {
    for (const bad of [["--queues=q", "--bogus"], ["--concurrency=0", "--queues=q"], ["--queues=high=x"], [], ["--queues=q", "--uri=http://x"], ["--queues=q", "--concurrency=abc"]]) {
      const w = spawnWorker(bad, { env: { QUEUES: "", QUEUE: "" } });
      expect(await w.exited).toBe(2);
      const lines = w.output().trim().split("\n");
      expect(lines.length).toBe(2);
      expect(lines[0]).toMatch(/^bunworker: /);
      expect(lines[1]).toMatch(/^usage: bunworker --queues=/);
    }
  });

  test("goworker's single-dash flags work: -queues q -concurrency=1 -exit-on-complete", async () => {
    await c.rpush(`${ns}queue:gw`, '{"class":"Record","args":["goworker-style"]}');
    const w = spawnWorker(["-queues", "gw", "-concurrency=1", `-uri=${REDIS_URL}`, `-namespace=${ns}`, "-exit-on-complete"]);
    expect(await w.exited).toBe(0);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["goworker-style"]']);
  });

  test("--help and --version", async () => {
    const help = spawnWorker(["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.output()).toContain("--queues");
    expect(help.output()).toContain("--shutdown-timeout");
    const version = spawnWorker(["--version"]);
    expect(await version.exited).toBe(0);
    expect(version.output()).toMatch(/^bunworker \d+\.\d+\.\d+ \(/);
  });

  test("an unreachable Redis is a clear error, not a hang", async () => {
    const w = spawnWorker(["--queues=q", "--uri=redis://127.0.0.1:1/", "--command-timeout=1"]);
    expect(await w.exited).toBe(1);
    expect(w.output()).toContain("cannot reach Redis at redis://127.0.0.1:1/");
  });

  test("a password never appears in a log line", async () => {
    const w = spawnWorker(["--queues=q", "--uri=redis://someone:s3cret-pass@127.0.0.1:1/", "--command-timeout=1"]);
    expect(await w.exited).toBe(1);
    expect(w.output()).toContain("redis://someone:***@127.0.0.1:1/");
    expect(w.output()).not.toContain("s3cret-pass");
  });
});
