// Issue #9, point 3: two containers with the same hostname and the same pid (pid 1 in each) both register
// host:1:...; the second must not "recover" the first's running job at start-up (it used to, and the job ran
// twice). Each worker here runs as pid 1 of its own pid namespace (`unshare --pid --fork --mount-proc`, as root,
// or in a user namespace where that is allowed), with the machine's hostname: what two containers with host
// networking look like to Redis.
import { afterEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { findUnshare, innerPid } from "./helpers/pidns";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { TEST_WORKER, spawnWorker, type WorkerProcess } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const host = hostname().replace(/:/g, "_");

const unshare = findUnshare();
const why = "why" in unshare ? unshare.why : "";
if (why) console.log(`containers.test.ts: skipped, no pid namespace available (${why}; uid ${process.getuid?.()})`);

let started: WorkerProcess[] = [];
afterEach(() => {
  // unshare --kill-child takes its child with it.
  for (const w of started) w.signal("SIGKILL");
  started = [];
});

/** A worker that is pid 1 of a pid namespace of its own. */
async function containerWorker(args: string[]): Promise<{ w: WorkerProcess; pid: number }> {
  const w = spawnWorker(args, { cmd: [...(unshare as { cmd: string[] }).cmd, process.execPath, TEST_WORKER] });
  started.push(w);
  await w.waitForOutput(/started: .* pid 1\b/, 15_000);
  const pid = await waitFor(() => innerPid(w), 5000, "the worker's pid outside its namespace");
  return { w, pid };
}

async function stop(x: { w: WorkerProcess; pid: number }): Promise<number> {
  process.kill(x.pid, "SIGTERM");
  return x.w.exited;
}

/** Worker ids of the process key `proc` ("host:pid:instance"), from bunworker:processes. */
async function idsOf(proc: string): Promise<string[]> {
  return JSON.parse((await c.hget(`${ns}bunworker:processes`, proc)) ?? "[]") as string[];
}

/** Process keys whose worker ids include one that holds a job now. */
async function busyIds(): Promise<string[]> {
  const ids = await c.smembers(`${ns}workers`);
  const states = await Promise.all(ids.map((id) => c.get(`${ns}worker:${id}`)));
  return ids.filter((_, i) => states[i] !== null);
}

describe.skipIf(Boolean(why))("two workers as pid 1 of two pid namespaces, same hostname", () => {
  const args = () => [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=ct", "--concurrency=2", "--heartbeat-interval=0.25", "--dead-after=1", "--command-timeout=2", "--shutdown-timeout=5"];

  test("the second does not recover the first's running job; both stay registered with distinct ids; the job runs and counts once", async () => {
    const a = await containerWorker(args());
    await c.rpush(`${ns}queue:ct`, '{"class":"Slow","args":[3000,"a-job"]}');
    await waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).length === 1, 5000, "the job to start in A");
    const [aJobId] = await busyIds();
    expect(aJobId).toBeDefined();
    const aProc = (await c.hkeys(`${ns}bunworker:processes`))[0] as string;
    expect(aProc).toMatch(new RegExp(`^${host}:1:\\w+$`));
    expect(await idsOf(aProc)).toContain(aJobId as string);

    // B starts while A's job runs: the same host and pid 1, another pid namespace.
    const b = await containerWorker(args());
    const procs = await waitFor(async () => ((await c.hlen(`${ns}bunworker:processes`)) === 2 ? c.hkeys(`${ns}bunworker:processes`) : null), 5000, "both registrations");
    const bProc = procs.find((p) => p !== aProc) as string;
    expect(bProc).toMatch(new RegExp(`^${host}:1:\\w+$`));
    const [aIds, bIds] = [await idsOf(aProc), await idsOf(bProc)];
    expect(aIds.length).toBe(2);
    expect(bIds.length).toBe(2);
    expect(new Set([...aIds, ...bIds]).size).toBe(4);
    expect((await c.smembers(`${ns}workers`)).sort()).toEqual([...aIds, ...bIds].sort());
    // The beats carry different pid namespaces: B can only judge A by the age of its beat, which stays fresh.
    const beats = (await c.hgetall(`${ns}bunworker:beats`)) as Record<string, string>;
    expect(beats[aProc]?.split("|")[1]).toBe("1");
    expect(beats[bProc]?.split("|")[1]).toBe("1");
    expect(beats[aProc]?.split("|")[3]).not.toBe(beats[bProc]?.split("|")[3]);

    // Until A acknowledges the job, its state stays A's: B reaps nothing, however many of its beats pass.
    const beatsOfB = async () => Number((await c.hget(`${ns}bunworker:beats`, bProc))?.split("|")[0] ?? 0);
    const bFirst = await beatsOfB();
    await waitFor(async () => (await beatsOfB()) - bFirst > 1000, 5000, "B's beats over more than --dead-after");
    expect(await c.get(`${ns}worker:${aJobId}`)).toContain('"a-job"');
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 10_000, "A to finish the job");
    await waitFor(async () => (await c.get(`${ns}worker:${aJobId}`)) === null, 5000, "A's ack");

    // Ruby's prune: host, pid, queues = id.split(':'); inside either container `ps` must show that pid as resque-<digit>.
    for (const id of [...aIds, ...bIds]) {
      const [h, pid] = id.split(":");
      expect(h).toBe(hostname());
      expect(pid).toBe("1");
    }
    // A Ruby worker on the machine itself would see neither pid 1 (another pid namespace): Resque's prune cannot
    // tell containers apart by hostname and pid, which is why a bunworker reaps bunworkers by their beats.
    for (const x of [a, b]) {
      const r = Bun.spawnSync(["nsenter", "--target", String(x.pid), "--pid", "--mount", "ps", "-A", "-o", "pid,command"]);
      if (r.exitCode !== 0) {
        console.log(`nsenter failed (${r.stderr.toString().trim()}): checking /proc/${x.pid}/cmdline, what ps shows for pid 1 inside`);
        expect(readFileSync(`/proc/${x.pid}/cmdline`, "utf8")).toMatch(/^resque-[0-9]/);
        continue;
      }
      const ps = r.stdout.toString().split("\n");
      const known = ps.filter((l) => /resque:work|resque:\sStarting|resque-[0-9]/.test(l) && !l.includes("resque-web")).map((l) => l.trim().split(/\s+/)[0]);
      expect(known).toEqual(["1"]);
    }

    expect(await stop(a)).toBe(0);
    expect(await stop(b)).toBe(0);
    expect(await c.lrange(`${ns}test:started`, 0, -1)).toEqual(["a-job"]);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["a-job"]);
    expect(await c.get(`${ns}stat:processed`)).toBe("1");
    expect(await c.llen(`${ns}queue:ct`)).toBe(0);
    expect(a.w.output() + b.w.output()).not.toContain("is dead");
    expect(await c.scard(`${ns}workers`)).toBe(0);
    expect(await c.hlen(`${ns}bunworker:processes`)).toBe(0);
    expect(await c.hlen(`${ns}bunworker:beats`)).toBe(0);
  }, 40_000);

  test("a worker killed in another pid namespace is recovered by the age of its beat, once", async () => {
    const a = await containerWorker(args());
    await c.rpush(`${ns}queue:ct`, '{"class":"Slow","args":[1500,"k-job"]}');
    await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1, 5000, "the job to start in A");
    const aProc = (await c.hkeys(`${ns}bunworker:processes`))[0] as string;
    const b = await containerWorker(args());
    process.kill(a.pid, "SIGKILL");
    await a.w.exited;
    // Not at once (B cannot see A's pid), but within --dead-after and a heartbeat or two.
    await b.w.waitForOutput(/worker process \S+:1:\w+ is dead: 1 job\(s\) back to their queues/, 10_000);
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 10_000, "B to run the recovered job");
    expect(await c.lrange(`${ns}test:started`, 0, -1)).toEqual(["k-job", "k-job"]);
    expect(await c.hexists(`${ns}bunworker:beats`, aProc)).toBe(false);
    expect(await stop(b)).toBe(0);
    expect(await c.scard(`${ns}workers`)).toBe(0);
    expect((await c.keys(`${ns}worker:*`)).length).toBe(0);
  }, 40_000);
});
