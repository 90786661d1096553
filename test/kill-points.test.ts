// Issue #10: "No job is ever popped outside a Lua script or a move into a recoverable list: the fault model
// holds for every new path, with tests that kill a worker at each point." A worker is SIGKILLed
// (a) idle, with its blocking waits and the pickups pipelined behind them pending in Redis;
// (b) right after a pickup took a job into a lent slot (before, while and after the job starts);
// (c) while a lane's fetch over 200 queues (`*`) is in flight;
// (d) frozen (SIGSTOP) and reaped by another worker, then killed (still frozen, or soon after SIGCONT).
// Each time: every job runs at least once, and none stays in a worker state after recovery.
// The kill moments are drawn from a seeded PRNG: FAULT_SEED=<seed printed> bun test test/kill-points.test.ts
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { hostname } from "node:os";
import { isolatePrivate, waitFor, type PrivateRedis } from "./helpers/redis";
import { faultSeed, mulberry32 } from "./helpers/seeded";
import { spawnWorker, startedWorker, terminateCleanly, type WorkerProcess } from "./helpers/worker-process";

const SEED = faultSeed(41, "kill-points");
const rng = mulberry32(SEED);
const host = hostname().replace(/:/g, "_");

// A private server: blocked_clients then counts our blocking waits only.
let redis: PrivateRedis;
let c: RedisClient;
let ns: string;
isolatePrivate((t) => ({ redis, c, ns } = t));

const blocked = async () => Number(/blocked_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1] ?? 0);
const args = (queues: string, concurrency: number, extra: string[] = []) => [
  `--uri=${redis.url}`, `--namespace=${ns}`, `--queues=${queues}`, `--concurrency=${concurrency}`,
  "--heartbeat-interval=0.25", "--dead-after=1", "--command-timeout=1", "--shutdown-timeout=1", ...extra,
];
const started = startedWorker;
async function kill(w: WorkerProcess): Promise<void> {
  w.signal("SIGKILL");
  await w.exited;
}
const term = terminateCleanly;
const count = (id: string, ms = 0) => `{"class":"Count","args":["${id}",${ms}]}`;
/** Every worker:<id> value that holds a job (not the :started keys). */
const states = async () => (await c.keys(`${ns}worker:*`)).filter((k) => !k.endsWith(":started"));
const runs = async () => Object.fromEntries(Object.entries((await c.hgetall(`${ns}test:runs`)) as Record<string, string>).map(([k, v]) => [k, Number(v)]));
const procOf = (w: WorkerProcess) => new RegExp(`^${host}:${w.pid}:`);

/** After recovery: no job in any state, no registration of a dead process, nothing under bunworker:* but the live ones'. */
async function nothingStuck(live: WorkerProcess[]): Promise<void> {
  await waitFor(async () => (await states()).length === 0, 10_000, "no job left in a worker state");
  const alive = (s: string) => live.some((w) => procOf(w).test(s));
  await waitFor(async () => (await c.smembers(`${ns}workers`)).every(alive) && (await c.hkeys(`${ns}bunworker:beats`)).every(alive), 5000, "only live processes registered");
  expect((await c.hkeys(`${ns}bunworker:processes`)).every(alive)).toBe(true);
  expect((await c.keys(`${ns}bunworker:lanes:*`)).every((k) => alive(k.slice(`${ns}bunworker:lanes:`.length)))).toBe(true);
  expect(await c.llen(`${ns}failed`)).toBe(0);
}

test("(a) killed while idle with blocking waits and pickups pending: the jobs pushed around the kill run on the live worker", async () => {
  // --concurrency=4 over two lanes: each lane lends one slot, so both queues' waits carry a pickup.
  const live = await started(args("ka,kb", 4));
  await waitFor(async () => (await blocked()) === 2, 5000, "the live worker's two blocking waits");
  const pushed: string[] = [];
  const rounds = 5;
  for (let round = 0; round < rounds; round++) {
    const victim = await started(args("ka,kb", 4));
    await waitFor(async () => (await blocked()) === 4, 5000, "the victim's blocking waits with their pickups");
    await Bun.sleep(rng.between(0, 300));
    // Jobs pushed just before the kill (a pickup may take one for the victim), at it, and after it.
    const before = rng.int(0, 2);
    const gapMs = rng.between(0, 3);
    const batch = Array.from({ length: 4 }, (_, k) => `a${round}-${k}`);
    pushed.push(...batch);
    for (const id of batch.slice(0, before)) await c.rpush(`${ns}queue:${rng.chance(0.5) ? "ka" : "kb"}`, count(id, 300));
    if (gapMs > 0.5) await Bun.sleep(gapMs);
    const killed = kill(victim);
    for (const id of batch.slice(before)) await c.rpush(`${ns}queue:${rng.chance(0.5) ? "ka" : "kb"}`, count(id));
    await killed;
    const done = async () => {
      const r = await runs();
      return pushed.every((id) => (r[id] ?? 0) >= 1);
    };
    await waitFor(done, 10_000, `round ${round}'s jobs to run on the live worker`);
  }
  await nothingStuck([live]);
  const r = await runs();
  const duplicates = Object.values(r).reduce((n, x) => n + x - 1, 0);
  console.log(`(a) ${rounds} idle kills, ${pushed.length} jobs, ${duplicates} duplicate runs`);
  expect(Object.keys(r).sort()).toEqual([...pushed].sort());
  await term(live);
  expect(await c.scard(`${ns}workers`)).toBe(0);
}, 60_000);

test("(b) killed right after a pickup took a job into a slot: the restarted worker recovers it at start-up", async () => {
  const rounds = 6;
  for (let round = 0; round < rounds; round++) {
    const tag = `b${round}`;
    const victim = await started(args("kpick", 3));
    await waitFor(async () => (await blocked()) === 1, 5000, "the victim's blocking wait with its pickup");
    // Kill together with the push (the pickup may not have run yet), 0-10 ms after it (the job may not have
    // started), or as soon as the job has started.
    const mode = rng.pick(["with the push", "after the push", "once the job had started"] as const);
    const delay = rng.between(0, 10);
    const push = c.rpush(`${ns}queue:kpick`, `{"class":"Slow","args":[300,"${tag}"]}`);
    if (mode === "with the push") victim.signal("SIGKILL");
    await push;
    if (mode === "once the job had started") await waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).includes(tag), 5000, "the job to start");
    if (mode === "after the push") await Bun.sleep(delay);
    await kill(victim);
    // The job is in exactly one place: its queue, or the victim's state.
    const inQueue = (await c.lrange(`${ns}queue:kpick`, 0, -1)).filter((j) => j.includes(`"${tag}"`)).length;
    const held = (await Promise.all((await states()).map((k) => c.get(k)))).filter((v) => v?.includes(`"${tag}"`)).length;
    expect(inQueue + held).toBe(1);
    const restarted = spawnWorker(args("kpick", 3));
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).includes(tag), 10_000, `${tag} to run to its end`);
    if (held) expect(restarted.output()).toMatch(new RegExp(`worker process ${host}:${victim.pid}:\\w+ is dead: 1 job\\(s\\) back to their queues`));
    console.log(`(b) round ${round}: killed ${mode === "after the push" ? `${delay.toFixed(1)} ms after the push` : mode}; the job was ${held ? "in the victim's state" : "still in its queue"}`);
    await nothingStuck([restarted]);
    await term(restarted);
  }
  const ran = await c.lrange(`${ns}test:ran`, 0, -1);
  expect([...new Set(ran)].sort()).toEqual(Array.from({ length: rounds }, (_, i) => `b${i}`));
  expect(await c.scard(`${ns}workers`)).toBe(0);
}, 60_000);

test("(c) killed while a lane's fetch over 200 queues on * is in flight: every job runs, none is stuck", async () => {
  const queues = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, "0")}`);
  const perQueue = 20;
  await c.send("SADD", [`${ns}queues`, ...queues]);
  for (const q of queues) await c.send("RPUSH", [`${ns}queue:${q}`, ...Array.from({ length: perQueue }, (_, k) => count(`${q}-${k}`, rng.int(5, 20)))]);
  const total = queues.length * perQueue;
  const concurrency = 10;
  const kills = 6;
  const recovered: number[] = [];
  let worker = await started(args("*", concurrency, ["--connections=2"]));
  for (let k = 0; k < kills; k++) {
    await Bun.sleep(rng.between(50, 400));
    const pid = worker.pid;
    await kill(worker);
    const held = (await states()).length;
    worker = await started(args("*", concurrency, ["--connections=2"]));
    const line = new RegExp(`worker process ${host}:${pid}:\\w+ is dead: (\\d+) job`);
    if (held) await worker.waitForOutput(line, 10_000);
    recovered.push(Number(line.exec(worker.output())?.[1] ?? 0));
  }
  await waitFor(async () => Object.keys(await runs()).length === total, 60_000, "every job to run");
  await nothingStuck([worker]);
  await term(worker);
  const r = await runs();
  const duplicates = Object.values(r).reduce((n, x) => n + x - 1, 0);
  console.log(`(c) ${total} jobs on 200 queues, ${kills} kills; jobs held by each killed worker and recovered: ${recovered.join(", ")}; ${duplicates} duplicate runs (bound ${kills * concurrency})`);
  expect(Math.min(...Object.values(r))).toBeGreaterThanOrEqual(1);
  expect(duplicates).toBeLessThanOrEqual(kills * concurrency);
  expect(recovered.some((n) => n > 0)).toBe(true);
  for (const q of queues.slice(0, 5)) expect(await c.llen(`${ns}queue:${q}`)).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
}, 90_000);

test("(d) frozen, reaped, then killed (still frozen, or soon after SIGCONT): its jobs run on the live worker, nothing stays behind", async () => {
  for (const [round, thawFirst] of [false, true].entries()) {
    const tag = `d${round}`;
    const victim = await started(args("kd", 3));
    await waitFor(async () => (await blocked()) === 1, 5000, "the victim's blocking wait");
    await c.rpush(`${ns}queue:kd`, `{"class":"Slow","args":[1500,"${tag}"]}`);
    await waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).includes(tag), 5000, "the victim's job to start");
    const live = await started(args("kd", 2));
    victim.signal("SIGSTOP");
    await live.waitForOutput(new RegExp(`worker process ${host}:${victim.pid}:\\w+ is dead: 1 job\\(s\\) back`), 10_000);
    // Pushed while the victim is frozen and unregistered: its pending pickup must not take them.
    const more = Array.from({ length: 3 }, (_, k) => `${tag}-${k}`);
    for (const id of more) await c.rpush(`${ns}queue:kd`, count(id, 50));
    await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).includes(tag), 10_000, "the reaped job to run on the live worker");
    if (thawFirst) {
      victim.signal("SIGCONT");
      await Bun.sleep(rng.between(0, 600));
    }
    await kill(victim);
    const r = await waitFor(async () => {
      const x = await runs();
      return more.every((id) => (x[id] ?? 0) >= 1) ? x : null;
    }, 10_000, "the jobs pushed while the victim was frozen");
    console.log(`(d) round ${round}: killed ${thawFirst ? "after SIGCONT" : "while frozen"}; runs ${JSON.stringify(r)}; ${tag} started ${(await c.lrange(`${ns}test:started`, 0, -1)).filter((t) => t === tag).length}×`);
    await nothingStuck([live]);
    await term(live);
    expect(await c.llen(`${ns}queue:kd`)).toBe(0);
    expect(await c.scard(`${ns}workers`)).toBe(0);
    expect(await c.hlen(`${ns}bunworker:beats`)).toBe(0);
  }
}, 60_000);

test("(e) killed around a pickup that a notification or a follower started: the job is in one place, and the restarted worker runs it", async () => {
  // Two paths past the blocking queues (issue #10): a keyspace notification's pickup into a lent slot on a lane's
  // connection (--blocking-queues=0, --follow-queues=0, notifications on), and a follower's blocking wait on a
  // queue that had a job (--follow-queues=1, notifications off). Each round kills the victim together with a
  // push, just after it, or once the job has started.
  const paths = {
    notified: { queues: "ke0,ke1,ke2", flags: ["--blocking-queues=0", "--follow-queues=0", "--keyspace-notifications=auto"], notify: "El" },
    follower: { queues: "kf0,kf1,kf2", flags: ["--blocking-queues=0", "--follow-queues=1", "--keyspace-notifications=off", "--interval=60"], notify: "" },
  } as const;
  const rounds = 8;
  const ran: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const path = round % 2 === 0 ? "notified" : "follower";
      const p = paths[path];
      await c.send("CONFIG", ["SET", "notify-keyspace-events", p.notify]);
      const queue = `${p.queues.split(",")[2]}`;
      const tag = `e${round}`;
      if (path === "follower") {
        // A first job, taken by the victim's start-up fetch, makes the follower wait on the queue.
        await c.rpush(`${ns}queue:${queue}`, `{"class":"Slow","args":[0,"${tag}-warm"]}`);
        ran.push(`${tag}-warm`);
      }
      const victim = await started(args(p.queues, 3, [...p.flags]));
      if (path === "follower") await waitFor(async () => (await blocked()) === 1, 5000, "the follower's wait");
      else await waitFor(async () => Number(((await c.send("PUBSUB", ["NUMSUB", "__keyevent@0__:rpush"])) as unknown[])[1] ?? 0) === 1, 5000, "the victim's notifier");
      const mode = rng.pick(["with the push", "after the push", "once the job had started"] as const);
      const delay = rng.between(0, 10);
      const push = c.rpush(`${ns}queue:${queue}`, `{"class":"Slow","args":[300,"${tag}"]}`);
      if (mode === "with the push") victim.signal("SIGKILL");
      await push;
      if (mode === "once the job had started") await waitFor(async () => (await c.lrange(`${ns}test:started`, 0, -1)).includes(tag), 5000, "the job to start");
      if (mode === "after the push") await Bun.sleep(delay);
      await kill(victim);
      const inQueue = (await c.lrange(`${ns}queue:${queue}`, 0, -1)).filter((j) => j.includes(`"${tag}"`)).length;
      const held = (await Promise.all((await states()).map((k) => c.get(k)))).filter((v) => v?.includes(`"${tag}"`)).length;
      expect(inQueue + held).toBe(1);
      ran.push(tag);
      const restarted = spawnWorker(args(p.queues, 3, [...p.flags]));
      await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).includes(tag), 10_000, `${tag} to run to its end`);
      if (held) expect(restarted.output()).toMatch(new RegExp(`worker process ${host}:${victim.pid}:\\w+ is dead: 1 job\\(s\\) back to their queues`));
      console.log(`(e) round ${round} (${path}): killed ${mode === "after the push" ? `${delay.toFixed(1)} ms after the push` : mode}; the job was ${held ? "in the victim's state" : "still in its queue"}`);
      await nothingStuck([restarted]);
      await term(restarted);
    }
  } finally {
    await c.send("CONFIG", ["SET", "notify-keyspace-events", ""]);
  }
  const done = await c.lrange(`${ns}test:ran`, 0, -1);
  expect([...new Set(done)].sort()).toEqual([...ran].sort());
  expect(await c.scard(`${ns}workers`)).toBe(0);
}, 90_000);
