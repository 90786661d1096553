// Issue #9 point 6: a Redis password given with --uri must never be readable by other users through `ps`
// (/proc/<pid>/cmdline): not while a worker waits for Redis at start-up, not for the life of a --processes
// supervisor, not in any of its children; and a --uri without `scheme://` is refused without echoing it.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { resolveConfig } from "../src/config";
import { parseCommandLine } from "../src/cli";
import { SettingsError } from "../src/errors";
import { defaultSettings } from "../src/settings";
import { client, freePort, freshNamespace, startRedis, thrown, waitFor, type PrivateRedis } from "./helpers/redis";
import { children, spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const SECRET = "pw-9f3k2x7q";
const TITLE = /^resque-3\.0\.0: bunworker \d/;
const SUPERVISOR_TITLE = /^resque-3\.0\.0: bunworker supervisor \d+\.\d+\.\d+\S* ps x2$/;
const linux = process.platform === "linux";

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+/g, " ").trim();
  } catch {
    return "";
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// A supervisor's children are not the test's: if a test fails half-way they are killed here, by pid.
const grandchildren = new Set<number>();
let server: PrivateRedis | null = null;
afterEach(async () => {
  // Supervisors first, or one would restart the children killed below.
  for (const child of children) child.kill("SIGKILL");
  // Only a pid that still shows a worker's procline or argv: one that exited may have been reused since.
  for (const pid of grandchildren) if (/^resque-3\.0\.0: bunworker|fixtures\/test-worker\.ts/.test(cmdline(pid))) process.kill(pid, "SIGKILL");
  grandchildren.clear();
  await server?.stop();
  server = null;
});

/** Waits until the supervisor and both children show their procline; returns every cmdline. */
async function supervisorTree(sup: WorkerProcess): Promise<string[]> {
  return waitFor(() => {
    const kids = childrenOf(sup.pid);
    for (const k of kids) grandchildren.add(k);
    const lines = [cmdline(sup.pid), ...kids.map(cmdline)];
    return SUPERVISOR_TITLE.test(lines[0] as string) && kids.length === 2 && lines.slice(1).every((l) => TITLE.test(l)) ? lines : null;
  }, 10_000, "the supervisor and two children to show their proclines");
}

async function requirePassword(redis: PrivateRedis, password: string): Promise<void> {
  const admin = client(redis.url);
  try {
    await admin.send("CONFIG", ["SET", "requirepass", password]);
  } finally {
    admin.close();
  }
}

/** A Redis that never answers: nobody listens on a free port, or a private server is frozen. */
const silent: Record<string, () => Promise<string>> = {
  "nobody listens": async () => `127.0.0.1:${await freePort()}`,
  "a frozen server": async () => {
    server = await startRedis();
    server.freeze();
    return `127.0.0.1:${server.port}`;
  },
};

describe.skipIf(!linux)("while Redis does not answer at start-up", () => {
  for (const [name, address] of Object.entries(silent)) {
    test(`${name}: a worker's argv shows its procline, not the password`, async () => {
      const w = spawnWorker([`--uri=redis://:${SECRET}@${await address()}/`, "--queues=ps", "--command-timeout=30"]);
      const line = await waitFor(() => (TITLE.test(cmdline(w.pid)) ? cmdline(w.pid) : null), 10_000, `the worker's procline; cmdline: ${cmdline(w.pid)}`);
      expect(line).toMatch(/^resque-3\.0\.0: bunworker \d+\.\d+\.\d+\S* ps x25$/);
      expect(line).not.toContain(SECRET);
      expect(w.output()).not.toContain(SECRET);
    }, 30_000);

    test(`${name}: a --processes supervisor and its children never show the password`, async () => {
      const sup = spawnWorker([`--uri=redis://:${SECRET}@${await address()}/`, "--queues=ps", "--processes=2", "--command-timeout=30"]);
      for (const line of await supervisorTree(sup)) expect(line).not.toContain(SECRET);
      expect(sup.output()).not.toContain(SECRET);
    }, 30_000);
  }
});

describe.skipIf(!linux)("with a running Redis that requires the password", () => {
  test("neither a worker nor a supervisor and its children show it; job code does not see the hand-off", async () => {
    server = await startRedis();
    // Not --requirepass at launch: the helper's readiness check connects without a password.
    await requirePassword(server, SECRET);
    const url = `redis://:${SECRET}@127.0.0.1:${server.port}/`;
    const ns = freshNamespace();
    const c = client(url);
    try {
      const single = spawnWorker([`--uri=${url}`, `--namespace=${ns}`, "--queues=ps", "--concurrency=1"]);
      await single.waitForOutput(/started/);
      expect(cmdline(single.pid)).toMatch(TITLE);
      expect(cmdline(single.pid)).not.toContain(SECRET);
      single.signal("SIGTERM");
      expect(await single.exited).toBe(0);

      const sup = spawnWorker([`-uri`, url, `--namespace=${ns}`, "--queues=ps", "--concurrency=1", "--processes=2", "--shutdown-timeout=1"]);
      await waitFor(async () => (await c.scard(`${ns}workers`)) === 2, 10_000, "two registered worker processes");
      for (const line of await supervisorTree(sup)) expect(line).not.toContain(SECRET);
      await c.rpush(`${ns}queue:ps`, '{"class":"Env","args":["BUNWORKER_URI"]}');
      await waitFor(async () => (await c.llen(`${ns}test:ran`)) === 1, 5000, "the Env job");
      expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["(unset)"]);
      sup.signal("SIGTERM");
      expect(await sup.exited).toBe(0);
      expect(single.output() + sup.output()).not.toContain(SECRET);
    } finally {
      c.close();
    }
  }, 30_000);
});

describe("a --uri without scheme:// is refused without echoing it", () => {
  const bad = [`user:${SECRET}@127.0.0.1:6379`, `:${SECRET}@127.0.0.1:6379/0`, `redis:/:${SECRET}@127.0.0.1`, `redis:${SECRET}@h`, `127.0.0.1:6379`];

  test.each(bad)("%p through parseCommandLine and resolveConfig", (uri) => {
    const e = thrown(() => resolveConfig({ ...defaultSettings({}), ...parseCommandLine(["--queues=q", `--uri=${uri}`], {}).settings }));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toStartWith("--uri must start with redis://, rediss://, unix:// or redis+sentinel://");
    expect(e.message).not.toContain(SECRET);
  });

  test("from the command line: exit 2, one line naming --uri, the usage line, no password", async () => {
    for (const uri of bad) {
      const w = spawnWorker(["--queues=q", `--uri=${uri}`]);
      expect(await w.exited).toBe(2);
      const lines = w.output().trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toStartWith("bunworker: --uri must start with redis://");
      expect(lines[1]).toStartWith("usage: bunworker");
      expect(w.output()).not.toContain(SECRET);
    }
  });

  test("from $REDIS_URL as well", async () => {
    const w = spawnWorker(["--queues=q"], { env: { REDIS_URL: `user:${SECRET}@127.0.0.1:6379` } });
    expect(await w.exited).toBe(2);
    expect(w.output()).toContain("--uri must start with");
    expect(w.output()).not.toContain(SECRET);
  });
});
