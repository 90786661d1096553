// Issue #4: dead-worker recovery, re-registration, and living beside Ruby workers on the same host.
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import type { RedisClient } from "bun";
import { encodeIdentity, ownIdentity, readProcStat } from "../src/identity";
import { makeKeys } from "../src/keys";
import { REDIS_URL, client, isolate, waitFor } from "./helpers/redis";
import { registryWith, startWorker } from "./helpers/in-process";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});
const host = hostname().replace(/:/g, "_");

/** What a killed bunworker process leaves in Redis: registry entry, beat, registration and one in-flight job. */
async function plantProcess(proc: string, beatMs: number, job: string, queue = "rec", identity = "") {
  const k = makeKeys(ns);
  const id = `${proc}:${queue}:0`;
  await c.hset(k.processes, proc, JSON.stringify([id]));
  await c.hset(k.beats, proc, identity ? `${beatMs}|${identity}` : String(beatMs));
  await c.sadd(k.workers, id);
  // worker:<id> is both Resque's "working on" state and our in-flight record
  await c.set(k.worker(id), `{"queue":"${queue}","run_at":"2026-11-27T10:00:00Z","payload":${job}}`);
  return id;
}
const redisNowMs = async () => {
  const [s, us] = (await c.send("TIME", [])) as [string, string];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

describe("dead workers", () => {
  test("after SIGKILL the running job stays in Redis and a restarted worker runs it again at start-up", async () => {
    const args = [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=rec", "--concurrency=2", "--shutdown-timeout=0.2"];
    const a = spawnWorker(args);
    await a.waitForOutput(/started/);
    await c.rpush(`${ns}queue:rec`, '{"class":"WaitForAbort","args":["victim"]}');
    await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1, 5000, "victim to start");
    a.signal("SIGKILL");
    await a.exited;
    const running = await Promise.all((await c.smembers(`${ns}workers`)).map((id) => c.get(`${ns}worker:${id}`)));
    expect(running.filter(Boolean).map((v) => JSON.parse(v as string).payload)).toEqual([{ class: "WaitForAbort", args: ["victim"] }]);
    expect(await c.scard(`${ns}workers`)).toBe(2);
    const b = spawnWorker(args);
    await waitFor(async () => (await c.llen(`${ns}test:started`)) === 2, 10_000, "victim to run again");
    expect(b.output()).toMatch(new RegExp(`worker process ${host}:${a.pid}:\\w+ is dead: 1 job\\(s\\) back to their queues`));
    const ids = await c.smembers(`${ns}workers`);
    expect(ids.every((id) => id.startsWith(`${host}:${b.pid}:`))).toBe(true);
    b.signal("SIGTERM");
    expect(await b.exited).toBe(0);
  });

  test("a predecessor that had our own pid (containers reuse pids) is recovered at start-up, even with a fresh beat", async () => {
    const me = ownIdentity();
    const predecessor = encodeIdentity({ ...me, start: String(Number(me.start) - 1) });
    await plantProcess(`${host}:${process.pid}:old`, await redisNowMs(), '{"class":"J","args":["mine"]}', "rec", predecessor);
    const ran: string[] = [];
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["rec"], exitOnComplete: true });
    await w.done;
    expect(ran).toEqual(["mine"]);
    expect(w.logs.join("\n")).toContain(`worker process ${host}:${process.pid}:old is dead: 1 job(s) back to their queues`);
  });

  test("a live process with our hostname and pid in another pid namespace (another container) is left alone", async () => {
    const twin = encodeIdentity({ ...ownIdentity(), pidns: "pid:[1]" });
    const id = await plantProcess(`${host}:${process.pid}:twin`, await redisNowMs(), '{"class":"J","args":["twin\'s"]}', "rec", twin);
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["rec"], exitOnComplete: true });
    await w.done;
    expect(await c.sismember(`${ns}workers`, id)).toBe(true);
    expect(await c.get(`${ns}worker:${id}`)).toContain("twin's");
    expect(await c.llen(`${ns}queue:rec`)).toBe(0);
  });

  test("a dead process that is still a zombie is dead: its job is recovered at once", async () => {
    // sh starts `sleep 0.05` in the background, then becomes `sleep 30`, which never reaps it: a zombie.
    const parent = Bun.spawn(["sh", "-c", "sleep 0.05 & echo $!; exec sleep 30"], { stdout: "pipe" });
    try {
      const { value } = await parent.stdout.getReader().read();
      const zombie = Number(new TextDecoder().decode(value).trim());
      const stat = await waitFor(() => (readProcStat(zombie)?.state === "Z" ? readProcStat(zombie) : null), 5000, "the zombie");
      const identity = encodeIdentity({ ...ownIdentity(), pid: zombie, start: stat.start });
      await plantProcess(`${host}:${zombie}:z`, await redisNowMs(), '{"class":"J","args":["zombie\'s"]}', "rec", identity);
      const ran: string[] = [];
      const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["rec"], exitOnComplete: true });
      await w.done;
      expect(ran).toEqual(["zombie's"]);
    } finally {
      parent.kill("SIGKILL");
      await parent.exited;
    }
  });

  test("another host's worker with a stale beat is unregistered and its job requeued", async () => {
    const id = await plantProcess("otherhost:4242", (await redisNowMs()) - 60_000, '{"class":"J","args":["orphan"]}');
    const ran: string[] = [];
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["rec"], exitOnComplete: true, deadAfter: 5 });
    await w.done;
    expect(ran).toEqual(["orphan"]);
    expect(await c.sismember(`${ns}workers`, id)).toBe(false);
    expect(await c.get(`${ns}worker:${id}`)).toBeNull();
  });

  test("with --dead-jobs=fail the dead worker's job becomes Resque's PruneDeadWorkerDirtyExit failure", async () => {
    const id = await plantProcess("otherhost:4243", 0, '{"class":"J","args":["x"]}');
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["rec"], exitOnComplete: true, deadJobs: "fail" });
    await w.done;
    const f = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string);
    expect(f).toMatchObject({ exception: "Resque::PruneDeadWorkerDirtyExit", worker: id, queue: "rec", payload: { class: "J", args: ["x"] } });
    expect(await c.llen(`${ns}queue:rec`)).toBe(0);
  });

  test("another host's worker with a fresh beat is left alone", async () => {
    const id = await plantProcess("otherhost:4244", await redisNowMs(), '{"class":"J","args":["busy"]}');
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["rec"], exitOnComplete: true, deadAfter: 5 });
    await w.done;
    expect(await c.sismember(`${ns}workers`, id)).toBe(true);
    expect(await c.get(`${ns}worker:${id}`)).toContain('"busy"');
  });
});

describe("registration", () => {
  test("ids removed from outside (as Ruby's prune or Resque.remove_worker do) register again", async () => {
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["reg"], concurrency: 2, heartbeatInterval: 0.1 });
    const ids = await waitFor(async () => ((await c.smembers(`${ns}workers`)).length === 2 ? await c.smembers(`${ns}workers`) : null), 5000, "registration");
    for (const id of ids) {
      // Resque's unregister pipeline (reference section 1)
      await c.srem(`${ns}workers`, id);
      await c.del(`${ns}worker:${id}`, `${ns}worker:${id}:started`, `${ns}stat:processed:${id}`, `${ns}stat:failed:${id}`);
      await c.hdel(`${ns}workers:heartbeat`, id);
    }
    await waitFor(async () => (await c.scard(`${ns}workers`)) === 2, 5000, "re-registration");
    for (const id of ids) expect(await c.get(`${ns}worker:${id}:started`)).toMatch(/^\d{4}-/);
    expect(w.logs.join("\n")).toContain("registered them again");
    w.launcher.stop();
    await w.done;
  });

  test("`ps` shows the worker the way Resque's prune looks for it, so a Ruby worker keeps it", async () => {
    const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=reg"]);
    await w.waitForOutput(/started/);
    // Ruby: `ps -A -o pid,command | grep -E "[r]esque:work|[r]esque:\sStarting|[r]esque-[0-9]" | grep -v "resque-web"`
    const ps = Bun.spawnSync(["ps", "-A", "-o", "pid,command"]).stdout.toString().split("\n");
    const known = ps.filter((l) => /resque:work|resque:\sStarting|resque-[0-9]/.test(l) && !l.includes("resque-web")).map((l) => l.trim().split(/\s+/)[0]);
    expect(known).toContain(String(w.pid));
    // Ruby's prune: host, pid, queues = id.split(':'); keep it when host differs or pid is known.
    for (const id of await c.smembers(`${ns}workers`)) {
      const [h, pid] = id.split(":");
      expect(h).toBe(hostname());
      expect(known).toContain(pid as string);
    }
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);
  });
});

describe("Resque's prune lock", () => {
  test("a prune lock held by a Ruby worker does not delay recovery, and is left alone", async () => {
    await plantProcess("otherhost:4245", 0, '{"class":"J","args":["locked"]}');
    await c.set(`${ns}pruning_dead_workers_in_progress`, "a-ruby-worker", "EX", 60);
    const ran: string[] = [];
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["rec"], exitOnComplete: true });
    await w.done;
    expect(ran).toEqual(["locked"]);
    expect(await c.get(`${ns}pruning_dead_workers_in_progress`)).toBe("a-ruby-worker");
  });

  test("recovery never takes Resque's prune lock, so Ruby workers can always prune", async () => {
    await plantProcess("otherhost:4246", 0, '{"class":"J","args":["free"]}');
    const w = startWorker(registryWith({ J: () => {} }), { namespace: ns, queues: ["rec"], exitOnComplete: true });
    await w.done;
    expect(w.logs.join("\n")).toContain("worker process otherhost:4246 is dead");
    expect(await c.get(`${ns}pruning_dead_workers_in_progress`)).toBeNull();
  });
});
