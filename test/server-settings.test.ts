// Issue #14: what the server or the fleet's settings can do to a live worker, said once at start or refused.
// - point 5: a maxmemory-policy that can evict bunworker's keys gets one warning naming the policy, what it can
//   lose and the fix; a server that cannot (noeviction, volatile-*: our keys have no TTL) gets none;
// - point 5: an ACL user without SUBSCRIBE gets one line and polling, not an outage loop;
// - point 8: a --heartbeat-interval that would let Resque's prune (300 s) reap live slots is refused;
// - point 4: a deleted or garbled process entry is rebuilt by the next heartbeat (logged), and a process killed
//   before that is still released with every id it registered.
import { describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { evictsOurKeys, maxmemoryPolicy } from "../src/eviction";
import { REDIS_URL, client, dropNamespace, freshNamespace, startRedis, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const HOSTILE = new URL("./fixtures/hostile-worker.ts", import.meta.url).pathname;
const job = (cls: string, ...args: unknown[]) => JSON.stringify({ class: cls, args });

describe("maxmemory-policy", () => {
  test.each([
    ["allkeys-lru", true], ["allkeys-lfu", true], ["allkeys-random", true],
    ["noeviction", false], ["volatile-lru", false], ["volatile-ttl", false], ["volatile-random", false],
  ])("%s evicts keys without a TTL: %p", (policy, evicts) => {
    expect(evictsOurKeys(policy as string)).toBe(evicts as boolean);
  });

  test("read from INFO memory", () => {
    expect(maxmemoryPolicy("# Memory\r\nused_memory:1\r\nmaxmemory_policy:allkeys-lru\r\n")).toBe("allkeys-lru");
    expect(maxmemoryPolicy("# Memory\r\n")).toBeNull();
  });

  test("a server on allkeys-lru: one warning at start naming the policy, the loss and the fix; noeviction: none", async () => {
    const r = await startRedis({ extra: ["--maxmemory-policy", "allkeys-lru", "--maxmemory", "100mb"] });
    try {
      const run = async () => {
        const w = spawnWorker([`--uri=${r.url}`, "--queues=q", "--exit-on-complete"], { script: HOSTILE });
        expect(await w.exited).toBe(0);
        return w.output().split("\n").filter((l) => /maxmemory-policy/.test(l));
      };
      expect(await run()).toEqual([expect.stringMatching(/WARN .*maxmemory-policy allkeys-lru: .*queued jobs, running jobs' worker:<id> records and worker registrations can be lost; set maxmemory-policy noeviction/)]);
      const c = new RedisClient(r.url);
      await c.send("CONFIG", ["SET", "maxmemory-policy", "noeviction"]);
      c.close();
      expect(await run()).toEqual([]);
    } finally {
      await r.stop();
    }
  }, 30_000);
});

test("an ACL user without SUBSCRIBE: one line, polling instead, jobs still run; no outage messages", async () => {
  const r = await startRedis({ extra: ["--notify-keyspace-events", "El"] });
  try {
    const admin = new RedisClient(r.url);
    await admin.send("ACL", ["SETUSER", "nosub", "on", ">pw", "~*", "&*", "+@all", "-subscribe", "-psubscribe", "-ssubscribe"]);
    const url = r.url.replace("redis://", "redis://nosub:pw@");
    // Queues past the blocking ones (--blocking-queues=0) are watched by notifications or the poll.
    const w = spawnWorker([`--uri=${url}`, "--queues=a,b", "--blocking-queues=0", "--follow-queues=0", "--interval=0.2", "--concurrency=2"], { script: HOSTILE });
    await w.waitForOutput(/started:/);
    await w.waitForOutput(/keyspace notifications not permitted for this user: polling instead/);
    await admin.rpush("resque:queue:b", job("Count", "b1", 10));
    await waitFor(async () => (await admin.hget("resque:test:runs", "b1")) === "1", 10_000, "the job to run through the poll");
    // Long enough for a retry loop to have said "unavailable" / "back" several times.
    await Bun.sleep(1500);
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(w.output().match(/not permitted for this user/g)?.length).toBe(1);
    expect(w.output()).not.toMatch(/unavailable|NOPERM|is back/i);
    admin.close();
  } finally {
    await r.stop();
  }
}, 30_000);

describe("--heartbeat-interval and Resque's prune window", () => {
  test.each(["151", "301", "3600"])("--heartbeat-interval=%s is refused with the reason: exit 2 and the usage line", async (v) => {
    const w = spawnWorker(["--queues=q", "--uri=redis://127.0.0.1:1/", `--heartbeat-interval=${v}`, "--dead-after=7200"]);
    expect(await w.exited).toBe(2);
    expect(w.output().trim().split("\n")).toEqual([
      `bunworker: --heartbeat-interval must be at most 150 (2.5 minutes, half of Resque's 300 s prune window: a Ruby worker prunes slots whose heartbeat is older), got ${v}`,
      expect.stringMatching(/^usage: bunworker --queues=/),
    ]);
  });
});

describe("the process entry in bunworker:processes", () => {
  const setup = async () => {
    const c = client();
    const ns = freshNamespace();
    return { c, ns, done: async () => (await dropNamespace(c, ns), c.close()) };
  };

  test.each(["deleted", "garbled"])("%s: rebuilt by the next heartbeat, with one log line", async (how) => {
    const { c, ns, done } = await setup();
    try {
      const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=q", "--concurrency=3", "--heartbeat-interval=0.3", "--dead-after=5"], { script: HOSTILE });
      await w.waitForOutput(/started:/);
      const [proc, entry] = Object.entries((await c.hgetall(`${ns}bunworker:processes`)) as Record<string, string>)[0] as [string, string];
      expect(JSON.parse(entry)).toHaveLength(3);
      if (how === "deleted") await c.hdel(`${ns}bunworker:processes`, proc);
      else await c.hset(`${ns}bunworker:processes`, proc, "{not json");
      await waitFor(async () => (await c.hget(`${ns}bunworker:processes`, proc)) === entry, 5000, "the entry to be rebuilt");
      await w.waitForOutput(/entry in \S+bunworker:processes was missing or garbled; wrote it again/);
      w.signal("SIGTERM");
      expect(await w.exited).toBe(0);
      expect(w.output().match(/was missing or garbled/g)?.length).toBe(1);
      expect(await c.scard(`${ns}workers`)).toBe(0);
    } finally {
      await done();
    }
  }, 20_000);

  test.each(["deleted", "garbled"])("%s, then the process killed before its next heartbeat: release still finds its jobs and every id it registered", async (how) => {
    const { c, ns, done } = await setup();
    try {
      const jobs = Array.from({ length: 4 }, (_, i) => job("Count", `c${i}`, 60_000));
      await c.send("RPUSH", [`${ns}queue:q`, ...jobs]);
      const flags = [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=q", "--concurrency=4", "--heartbeat-interval=60", "--dead-after=150"];
      const w = spawnWorker(flags, { script: HOSTILE });
      await waitFor(async () => Object.keys((await c.hgetall(`${ns}test:runs`)) as Record<string, string>).length === 4, 10_000, "four jobs running");
      const [proc] = Object.keys((await c.hgetall(`${ns}bunworker:processes`)) as Record<string, string>) as [string];
      if (how === "deleted") await c.hdel(`${ns}bunworker:processes`, proc);
      else await c.hset(`${ns}bunworker:processes`, proc, '["not an id"');
      w.signal("SIGKILL");
      await w.exited;
      // A new worker on the same host sees the pid gone and releases the process at start-up.
      const next = spawnWorker([...flags.slice(0, 3), "--queues=other", "--exit-on-complete"], { script: HOSTILE });
      expect(await next.exited).toBe(0);
      expect(next.output()).toMatch(new RegExp(`worker process ${proc.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is dead: 4 job\\(s\\) back to their queues`));
      expect(await c.llen(`${ns}queue:q`)).toBe(4);
      expect(await c.scard(`${ns}workers`)).toBe(0);
      expect(await c.hlen(`${ns}workers:heartbeat`)).toBe(0);
      expect((await c.keys(`${ns}worker:*`)) as string[]).toEqual([]);
      expect(await c.hlen(`${ns}bunworker:beats`)).toBe(0);
    } finally {
      await done();
    }
  }, 30_000);
});
