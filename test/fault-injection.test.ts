// Issue #9's last point: randomized, seeded (reproducible) fault schedules. Three workers (one on `*`) and a
// --processes=2 supervisor serve five queues of a private Redis (AOF, fsync always) while a pusher adds jobs
// in bursts and in a trickle, each exactly once. For about 22 s a seeded schedule SIGSTOPs workers (sometimes
// past --dead-after, so they are reaped while frozen, then SIGCONT or SIGKILL), SIGKILLs workers, supervisor
// children and the supervisor, restarts and freezes Redis, and plants wrong-type keys (a queue, an unused
// queue, a stats counter) for a while. Every unit is restarted when it dies (systemd's Restart=always).
// While it runs, atomic snapshots of Redis check that no job is ever in two places and that no job that has
// not run is in none. Afterwards (faults healed, every unit stopped with TERM, one clean --exit-on-complete
// worker to drain and reap): every job ran at least once and is nowhere any more, no counter went negative,
// nothing is registered, nothing is left under bunworker:*, and the failed list holds only the entries the
// planted queue key caused (counted, and requeued by hand as an operator would).
// Issue #14: the same schedule also draws the faults that are no fault at all: each unit gets its own seeded
// --heartbeat-interval and --dead-after (a mixed fleet); jobs that block the event loop (a synchronous loop after
// an await or in the first call, 1-4 times the fleet's shortest --dead-after); jobs that call process.exit,
// exit from a timer, call process.abort or throw from a timer; and tampered bookkeeping keys (a lanes hash's
// tokens overwritten or deleted, or the hash deleted; a stats counter broken). On top of the invariants above:
// no process is ever reaped that the test did not kill or freeze, and each exiting job is exactly one failure
// entry of its kind. A job that was in flight in three processes the test killed is Bunworker::CrashedWorker
// (release-5.lua): requeued by hand, as an operator would. An evicting server (allkeys-lru under memory
// pressure) loses jobs, and the test's own counts with them, so it has a test of its own below, seeded the same.
//
// Issue #17: delayed items written as Ruby's resque-scheduler writes them (the bucket, the schedule zset, the
// timestamps set, in one step) arrive in bursts due 1-4 s later; every worker process runs its promoter (the
// default), so the faults above kill, freeze and restart promoters, the master lock's holder among them, and
// restart and freeze Redis under them. A delayed item is one more place a job can be in: the snapshots check
// that promotion never puts one in two places or loses it, and every delayed job runs like the others (one
// promoted into a planted queue key is a Bunworker::BadQueueKey failure, requeued by hand as an operator would).
//
// Replay a failure with FAULT_SEED=<the seed printed> bun test test/fault-injection.test.ts
import { afterAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { faultSeed, mulberry32, type Rng } from "./helpers/seeded";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const SEED = faultSeed(20261201, "fault-injection");
const NS = "fi:";
/** Queues jobs are pushed to; "fz" is listed by some workers and never used, except for a planted key. */
const QUEUES = ["fa", "fb", "fc", "fd"] as const;
const ALL_QUEUES = [...QUEUES, "fz"];
const SCHEDULE_MS = 22_000;
const PUSH_MS = 20_000;
const RESTART_DELAY_MS = 300;

// ---------------------------------------------------------------------------------------------------------
// Small tools

const sleep = (ms: number) => Bun.sleep(Math.max(0, ms));

function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** State letter of a pid from /proc, or null when it does not exist. */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? null;
  } catch {
    return null;
  }
}
const alive = (pid: number) => {
  const s = procState(pid);
  return s !== null && s !== "Z" && s !== "X";
};
/** Still one of our worker processes (a pid that has exited may be reused by something else). */
function stillOurs(pid: number): boolean {
  try {
    return alive(pid) && /^resque-3\.0\.0: bunworker|fixtures\/test-worker\.ts/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return false;
  }
}
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

// ---------------------------------------------------------------------------------------------------------
// Redis access from the test: a fresh short-lived client per operation, so that a frozen or restarting
// server never hangs the test; retried until a deadline where an operation must happen.

let redis: PrivateRedis | undefined;

async function once<T>(f: (c: RedisClient) => Promise<T>, ms = 2000): Promise<T> {
  const c = new RedisClient((redis as PrivateRedis).url, { autoReconnect: false, connectionTimeout: 1000, enableOfflineQueue: false });
  try {
    return await timed(c.connect().then(() => f(c)), ms, "test's Redis call");
  } finally {
    c.close();
  }
}

async function always<T>(f: (c: RedisClient) => Promise<T>, what: string, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await once(f);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}

const evalScript = (c: RedisClient, script: string, keys: string[], args: (string | number)[]) => c.send("EVAL", [script, String(keys.length), ...keys, ...args.map(String)]);

// Pushes each job exactly once, whatever the connection does (a push whose reply is lost is sent again): the
// SADD on test:pushed guards the RPUSH. A queue key of the wrong type is refused before anything is written.
const PUSH = `
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'list' and t ~= 'none' then return -1 end
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[i + 1]) n = n + 1 end
end
return n`;

// Everything that can hold a job, read in one atomic step, plus the run counts, the pushed ids and the stats.
const SNAPSHOT = `
local ns = ARGV[1]
local queued, states, failed, stats = {}, {}, {}, {}
for i = 2, #ARGV do
  local key = ns .. 'queue:' .. ARGV[i]
  if redis.call('TYPE', key).ok == 'list' then
    for _, v in ipairs(redis.call('LRANGE', key, 0, -1)) do queued[#queued + 1] = ARGV[i] queued[#queued + 1] = v end
  end
end
for _, k in ipairs(redis.call('KEYS', ns .. 'worker:*')) do
  if string.sub(k, -8) ~= ':started' then
    states[#states + 1] = k
    states[#states + 1] = redis.call('TYPE', k).ok == 'string' and redis.call('GET', k) or '(not a string)'
  end
end
if redis.call('TYPE', ns .. 'failed').ok == 'list' then failed = redis.call('LRANGE', ns .. 'failed', 0, -1) end
local delayed, schedule = {}, ns .. 'delayed_queue_schedule'
if redis.call('TYPE', schedule).ok == 'zset' then
  for _, ts in ipairs(redis.call('ZRANGE', schedule, 0, -1)) do
    local bucket = ns .. 'delayed:' .. ts
    if redis.call('TYPE', bucket).ok == 'list' then
      for _, v in ipairs(redis.call('LRANGE', bucket, 0, -1)) do delayed[#delayed + 1] = ts delayed[#delayed + 1] = v end
    end
  end
end
for _, k in ipairs(redis.call('KEYS', ns .. 'stat:*')) do
  if redis.call('TYPE', k).ok == 'string' then stats[#stats + 1] = k stats[#stats + 1] = redis.call('GET', k) end
end
local registered = redis.call('SMEMBERS', ns .. 'workers')
local lock = redis.call('GET', ns .. ns .. 'resque_scheduler_master_lock') or ''
for _, p in ipairs(redis.call('HKEYS', ns .. 'bunworker:beats')) do registered[#registered + 1] = p end
return { queued, states, failed, redis.call('HGETALL', ns .. 'test:runs'), redis.call('SMEMBERS', ns .. 'test:pushed'), stats, registered, delayed, lock }`;

interface Snapshot {
  /** job id -> where it is: "queue:fa", "state:<key>", "failed", "delayed:<ts>" */
  places: Map<string, string[]>;
  runs: Map<string, number>;
  pushed: Set<string>;
  stats: Map<string, string>;
  failed: string[];
  /** Worker ids and process keys registered ("host:pid:..."). */
  registered: string[];
  /** resque-scheduler's master lock's value ("" when free). */
  lockHolder: string;
}

const jobId = (payload: unknown): string => String((payload as { args?: unknown[] })?.args?.[0] ?? "?");

function pairs(flat: unknown[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), String(flat[i + 1])]);
  return out;
}
function hashOf(v: unknown): [string, string][] {
  if (Array.isArray(v)) return pairs(v);
  return Object.entries((v ?? {}) as Record<string, unknown>).map(([k, x]) => [k, String(x)]);
}

async function snapshot(c: RedisClient): Promise<Snapshot> {
  const [queued, states, failed, runs, pushed, stats, registered, delayed, lock] = (await evalScript(c, SNAPSHOT, [], [NS, ...ALL_QUEUES])) as unknown[][];
  const places = new Map<string, string[]>();
  const at = (id: string, where: string) => places.set(id, [...(places.get(id) ?? []), where]);
  for (const [q, raw] of pairs(queued as unknown[])) at(jobId(JSON.parse(raw)), `queue:${q}`);
  for (const [ts, raw] of pairs(delayed as unknown[])) at(jobId(JSON.parse(raw)), `delayed:${ts}`);
  for (const [k, v] of pairs(states as unknown[])) {
    try {
      at(jobId(JSON.parse(v).payload), `state:${k}`);
    } catch {
      at(`unreadable state ${k}`, `state:${k}`);
    }
  }
  for (const f of (failed as unknown[]).map(String)) at(jobId(JSON.parse(f).payload), "failed");
  return {
    places,
    runs: new Map(hashOf(runs).map(([k, v]) => [k, Number(v)])),
    pushed: new Set((pushed as unknown[]).map(String)),
    stats: new Map(hashOf(stats)),
    failed: (failed as unknown[]).map(String),
    registered: (registered as unknown[]).map(String),
    lockHolder: String(lock),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Units: a worker command restarted whenever it exits (systemd's Restart=always), until the test stops it.

interface Exit {
  unit: string;
  pid: number;
  code: number | null;
  signal: string | null;
  /** The one line a worker prints when it exits with an error ("bunworker: ..."), if any. */
  error: string;
  /** It stopped on a broken stats counter (exit status 1 on purpose, whatever its last line says). */
  brokenCounter: boolean;
  tail: string;
}

class Unit {
  current: WorkerProcess | null = null;
  restarting = true;
  readonly exits: Exit[] = [];
  /** Processes of this unit the test SIGKILLed (directly, or as a supervisor's child). */
  readonly killedPids = new Set<number>();
  starts = 0;
  /** Processes of the unit that have exited. */
  readonly gone = new WeakSet<WorkerProcess>();

  constructor(
    readonly name: string,
    readonly args: string[],
    /** Slots of the unit: --concurrency × --processes. */
    readonly slots: number,
    readonly supervisor: boolean,
  ) {}

  launch(): void {
    const w = spawnWorker(this.args);
    this.starts++;
    this.current = w;
    void w.exited.then((code) => {
      this.gone.add(w);
      const out = w.output();
      for (const m of out.matchAll(/worker process (\S+) is dead/g)) reaped.add(m[1] as string);
      this.exits.push({ unit: this.name, pid: w.pid, code: w.proc.signalCode ? null : code, signal: w.proc.signalCode ? String(w.proc.signalCode) : null, error: [...out.matchAll(/^bunworker: .*$/gm)].at(-1)?.[0] ?? "", brokenCounter: /stat:(processed|failed) [^\n]*fix or delete it/.test(out), tail: out.slice(-3000) });
      if (this.restarting && this.current === w) setTimeout(() => this.restarting && this.current === w && this.launch(), RESTART_DELAY_MS);
    });
  }

  /** The live process, once it has started (a worker logs "started", a supervisor "supervising"). */
  ready(): WorkerProcess | null {
    const w = this.current;
    if (!w || this.gone.has(w) || !alive(w.pid)) return null;
    return /started|supervising/.test(w.output()) ? w : null;
  }

  /** Worker processes of the unit: the process itself, or a supervisor's live children. */
  workerPids(): number[] {
    const w = this.current;
    if (!w || !alive(w.pid)) return [];
    return this.supervisor ? childPids(w.pid).filter(alive) : [w.pid];
  }
}

// ---------------------------------------------------------------------------------------------------------
// The schedule

/** Jobs that do what job authors do to a process (test/fixtures/test-worker.ts), and what each one's failure is. */
const JOB_FAULTS = { "job-spin": "Spin", "job-spin-now": "SpinNow", "job-exit": "Exit", "job-exit-later": "ExitLater", "job-abort": "Abort", "job-throw-later": "ThrowLater" } as const;
type JobFault = keyof typeof JOB_FAULTS;
const EXCEPTION: Record<string, string> = { Exit: "ProcessExitError", ExitLater: "ProcessExitError", Abort: "ProcessAbortError", ThrowLater: "RangeError" };
type Kind = "freeze" | "freeze-long" | "kill" | "kill-child" | "kill-supervisor" | "freeze-supervisor" | "redis-restart" | "redis-freeze" | "plant-queue" | "plant-unused" | "plant-stats" | "tamper-lanes" | JobFault;

interface Fault {
  at: number;
  kind: Kind;
  /** Picks the target among the candidates at the time. */
  pick: number;
  /** How long the fault lasts (freezes, plants, outages). */
  holdMs: number;
  /** For freeze-long: end with SIGKILL instead of SIGCONT. */
  thenKill: boolean;
  /** For plant-stats: which counter. */
  statKey: "stat:processed" | "stat:failed";
}

function plan(rng: Rng): Fault[] {
  // Every kind once, then random ones, in a random order.
  const jobFaults = Object.keys(JOB_FAULTS) as JobFault[];
  const required: Kind[] = ["freeze", "freeze-long", "freeze-long", "kill", "kill-child", "kill-supervisor", "redis-restart", "plant-queue", "plant-unused", "plant-stats", "tamper-lanes", ...jobFaults];
  const weighted: [Kind, number][] = [["freeze", 5], ["freeze-long", 4], ["kill", 5], ["kill-child", 2], ["kill-supervisor", 1], ["freeze-supervisor", 1], ["redis-restart", 1], ["redis-freeze", 1], ["plant-queue", 2], ["plant-unused", 1], ["plant-stats", 1], ["tamper-lanes", 2], ...jobFaults.map((k): [Kind, number] => [k, 1])];
  const total = weighted.reduce((n, [, w]) => n + w, 0);
  const extra: Kind[] = [];
  for (let i = 0; i < 12; i++) {
    let r = rng() * total;
    const found = weighted.find(([, w]) => (r -= w) < 0);
    extra.push((found ?? weighted[0] ?? ["kill"])[0]);
  }
  const kinds = rng.shuffle([...required, ...extra]);
  const gap = SCHEDULE_MS / (kinds.length + 1);
  return kinds.map((kind, i) => {
    const long = kind === "freeze-long";
    return {
      at: Math.round(gap * (i + 1) + rng.between(-gap / 3, gap / 3)),
      kind,
      pick: rng(),
      // For a job fault: how long its loop blocks, in units of the fleet's shortest --dead-after (1-4).
      holdMs: Math.round(long ? rng.between(1500, 3000) : kind === "freeze" ? rng.between(100, 800) : kind.startsWith("plant") ? rng.between(600, 2500) : kind.startsWith("job-") ? rng.between(1000, 4000) : rng.between(300, 1500)),
      thenKill: rng.chance(0.5),
      statKey: rng.chance(0.5) ? "stat:processed" : "stat:failed",
    };
  });
}

interface PushStep {
  at: number;
  queue: string;
  jobs: { id: string; ms: number }[];
}

function pushPlan(rng: Rng): PushStep[] {
  const steps: PushStep[] = [];
  let n = 0;
  const job = () => ({ id: `job-${n++}`, ms: rng.int(0, 25) });
  for (let t = 0; t < PUSH_MS; ) {
    if (rng.chance(0.12)) {
      steps.push({ at: Math.round(t), queue: rng.pick(QUEUES), jobs: Array.from({ length: rng.int(40, 150) }, job) });
      t += rng.between(300, 900);
    } else {
      steps.push({ at: Math.round(t), queue: rng.pick(QUEUES), jobs: Array.from({ length: rng.int(1, 3) }, job) });
      t += rng.between(5, 45);
    }
  }
  return steps;
}

/** Delayed items (#17), written as Ruby's delayed_push writes them, due `dueIn` seconds after the write. */
interface DelayedStep extends PushStep {
  dueIn: number;
}

function delayedPlan(rng: Rng): DelayedStep[] {
  const steps: DelayedStep[] = [];
  let n = 0;
  for (let t = rng.between(200, 1500); t < PUSH_MS; t += rng.between(800, 2500)) {
    steps.push({ at: Math.round(t), queue: rng.pick(QUEUES), dueIn: rng.int(1, 4), jobs: Array.from({ length: rng.int(5, 60) }, () => ({ id: `delayed-${n++}`, ms: rng.int(0, 25) })) });
  }
  return steps;
}

// resque-scheduler's delayed_push (reference 1.1): RPUSH delayed:<ts>, SADD timestamps:<item>, ZADD
// delayed_queue_schedule, with <ts> the Redis clock plus ARGV[2] seconds; each item once (SADD test:pushed).
const DELAYED_PUSH = `
local ns = ARGV[1]
local due = tonumber(redis.call('TIME')[1]) + tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 2 do
  if redis.call('SADD', ns .. 'test:pushed', ARGV[i]) == 1 then
    local item = ARGV[i + 1]
    redis.call('RPUSH', ns .. 'delayed:' .. due, item)
    redis.call('SADD', ns .. 'timestamps:' .. item, 'delayed:' .. due)
    redis.call('ZADD', ns .. 'delayed_queue_schedule', due, due)
    n = n + 1
  end
end
return n`;

// ---------------------------------------------------------------------------------------------------------

let units: Unit[] = [];
/** Every worker process of a supervisor the test has seen: they are not the test's children. */
const grandchildren = new Set<number>();
/** Processes some worker said it reaped ("worker process <proc> is dead"). */
const reaped = new Set<string>();
/** Processes the test has SIGSTOPped and not yet SIGCONTed (or killed). */
const frozen = new Set<number>();
/** Every worker process the test has ever SIGSTOPped: the only live ones a reaper may take for dead. */
const everFrozen = new Set<number>();

afterAll(async () => {
  for (const u of units) u.restarting = false;
  for (const u of units) if (u.current) signal(u.current.pid, "SIGCONT"), signal(u.current.pid, "SIGKILL");
  for (const pid of grandchildren) if (stillOurs(pid)) signal(pid, "SIGCONT"), signal(pid, "SIGKILL");
  await Promise.all(units.map((u) => u.current?.exited));
  await redis?.stop();
});

test(`randomized faults (seed ${SEED}): every job runs, nothing is lost, stuck, negative or left registered`, async () => {
  const rng = mulberry32(SEED);
  const faults = plan(rng);
  const pushes = pushPlan(rng);
  const total = pushes.reduce((n, s) => n + s.jobs.length, 0);
  const notifications = rng.chance(0.5);
  // Each worker: a blocking wait on its first one or two queues; keyspace notifications used or not.
  const watch = () => [`--blocking-queues=${rng.int(1, 2)}`, `--follow-queues=${rng.int(0, 2)}`, `--keyspace-notifications=${rng.chance(0.7) ? "auto" : "off"}`];
  // Issue #14: a mixed fleet. Each unit its own --heartbeat-interval and --dead-after (2-6 beats).
  const fleet = Array.from({ length: 4 }, () => {
    const hb = rng.pick([0.25, 0.5, 1]);
    return { hb, deadAfter: hb * rng.pick([2, 3, 6]) };
  });
  const shortest = Math.min(...fleet.map((f) => f.deadAfter));
  const settings = (i: number) => [`--heartbeat-interval=${fleet[i]?.hb}`, `--dead-after=${fleet[i]?.deadAfter}`];
  // The jobs the job faults push, decided up front: a loop of 1-4 times the shortest --dead-after, an exit status.
  const faultJobs = new Map(faults.flatMap((f, i) => {
    if (!f.kind.startsWith("job-")) return [];
    const cls = JOB_FAULTS[f.kind as JobFault];
    const id = `fault-${i}`;
    const args = cls === "Spin" || cls === "SpinNow" ? [id, Math.round(Math.min(4000, (shortest * f.holdMs))) ] : cls === "Exit" ? [id, Math.floor(f.pick * 3)] : [id];
    return [[f, { id, cls, queue: QUEUES[Math.floor(f.pick * QUEUES.length)] as string, payload: JSON.stringify({ class: cls, args }) }]];
  }));
  const exiting = [...faultJobs.values()].filter((j) => j.cls in EXCEPTION);
  // A stream of its own, so the schedule and pushes above are the same as without delayed items.
  const delayedSteps = delayedPlan(mulberry32(SEED ^ 0x17));
  const delayedTotal = delayedSteps.reduce((n, s) => n + s.jobs.length, 0);
  const jobsTotal = total + faultJobs.size + delayedTotal;
  console.log(`fault-injection: ${total} jobs in ${pushes.length} pushes, ${delayedTotal} delayed items in ${delayedSteps.length} Ruby-shaped writes and ${faultJobs.size} from job faults (${[...faultJobs.values()].map((j) => j.payload).join(", ")}); fleet ${JSON.stringify(fleet)}; keyspace notifications ${notifications ? "on" : "off"}; schedule: ${faults.map((f) => `${f.at}ms ${f.kind}${f.kind === "plant-stats" ? `(${f.statKey})` : ""}${/freeze|plant|redis/.test(f.kind) ? ` ${f.holdMs}ms` : ""}${f.kind === "freeze-long" ? (f.thenKill ? " then KILL" : " then CONT") : ""}`).join(", ")}`);

  redis = await startRedis({ appendonly: true, extra: notifications ? ["--notify-keyspace-events", "El"] : [] });
  const r = redis;
  await always((c) => c.send("SADD", [`${NS}queues`, ...ALL_QUEUES]), "register the queues");

  const base = [`--uri=${r.url}`, `--namespace=${NS}`, "--command-timeout=1", "--shutdown-timeout=1", "--interval=0.5"];
  const common = [...base, "--heartbeat-interval=0.25", "--dead-after=1"];
  units = [
    new Unit("w-abc", [...base, ...settings(0), "--queues=fa,fb,fc,fz", "--concurrency=4", ...watch()], 4, false),
    new Unit("w-star", [...base, ...settings(1), "--queues=*", "--concurrency=3", "--connections=1", ...watch()], 3, false),
    new Unit("w-weighted", [...base, ...settings(2), "--queues=fd=2,fc=1,fb=1,fz", "--concurrency=3", ...watch()], 3, false),
    new Unit("supervisor", [...base, ...settings(3), "--queues=fb,fd,fa", "--concurrency=2", "--processes=2", ...watch()], 4, true),
  ];
  const totalSlots = units.reduce((n, u) => n + u.slots, 0);
  for (const u of units) u.launch();
  await waitFor(() => units.every((u) => u.ready()), 20_000, "every unit to start");
  await waitFor(async () => (await once((c) => c.scard(`${NS}workers`))) === 4 + 3 + 3 + 2 * 2, 20_000, "every worker process to register");

  const violations: string[] = [];
  const note = (v: string) => violations.length < 50 && violations.push(v);
  const counts: Record<string, number> = {};
  /** Duplicate runs each fault can cause at most: the slots of the processes it hits. */
  let dupBound = 0;
  const start = Date.now();
  const elapsed = () => Date.now() - start;
  const log = (what: string) => console.log(`  ${String(elapsed()).padStart(6)} ms  ${what}`);

  // -- the pusher
  let pushed = 0;
  const pusher = (async () => {
    for (const [i, step] of pushes.entries()) {
      await sleep(step.at - elapsed());
      const args = step.jobs.flatMap((j) => [j.id, `{"class":"Count","args":["${j.id}",${j.ms}]}`]);
      // A queue key of the wrong type refuses the push: the next queue takes the jobs.
      for (let k = 0; ; k++) {
        const queue = QUEUES[(QUEUES.indexOf(step.queue as (typeof QUEUES)[number]) + k) % QUEUES.length] as string;
        const n = Number(await always((c) => evalScript(c, PUSH, [`${NS}queue:${queue}`, `${NS}test:pushed`], args), `push ${i}`, 60_000));
        if (n >= 0) break;
        await sleep(k >= QUEUES.length ? 100 : 0);
      }
      pushed += step.jobs.length;
    }
  })();

  // -- the delayed items (#17): due 1-4 s after their write, promoted by whichever process holds the lock
  const delayedPusher = (async () => {
    for (const [i, step] of delayedSteps.entries()) {
      await sleep(step.at - elapsed());
      const args = step.jobs.flatMap((j) => [j.id, JSON.stringify({ class: "Count", args: [j.id, j.ms], queue: step.queue })]);
      await always((c) => evalScript(c, DELAYED_PUSH, [], [NS, step.dueIn, ...args]), `delayed write ${i}`, 60_000);
      pushed += step.jobs.length;
    }
  })();

  // -- the monitor: atomic snapshots while everything runs
  let monitoring = true;
  let snapshots = 0;
  /** Every process seen holding the master lock: more than one means the faults made it change hands. */
  const lockHolders = new Set<string>();
  // A process stays registered after its death only until some live worker's next heartbeat: at most a few
  // seconds of normal operation (time with Redis away or a counter broken, when nobody can reap, not counted).
  const deadFor = new Map<string, number>();
  let lastLook = Date.now();
  let abnormal = 0;
  let plantedStats = 0;
  const monitor = (async () => {
    while (monitoring) {
      try {
        const s = await once(snapshot, 3000);
        snapshots++;
        if (s.lockHolder) lockHolders.add(s.lockHolder);
        for (const u of units.filter((u) => u.supervisor)) for (const pid of u.workerPids()) grandchildren.add(pid);
        for (const [id, where] of s.places) if (where.length > 1) note(`${elapsed()} ms: ${id} is in ${where.length} places: ${where.join(", ")}`);
        for (const id of s.pushed) if (!s.places.has(id) && !(s.runs.get(id) ?? 0)) note(`${elapsed()} ms: ${id} was pushed, has not run, and is nowhere (lost)`);
        for (const [k, v] of s.stats) if (/^-/.test(v)) note(`${elapsed()} ms: ${k} is negative: ${v}`);
        const now = Date.now();
        // ...and not while every worker process is frozen or starting: nobody beats then.
        const normal = abnormal === 0 && plantedStats === 0 && units.some((u) => u.workerPids().some((pid) => !frozen.has(pid)));
        const dead = new Set(s.registered.map((x) => x.split(":").slice(0, 2).join(":")).filter((hp) => !alive(Number(hp.split(":")[1]))));
        for (const hp of [...deadFor.keys()]) if (!dead.has(hp)) deadFor.delete(hp);
        for (const hp of dead) {
          const t = (deadFor.get(hp) ?? 0) + (normal ? now - lastLook : 0);
          deadFor.set(hp, t);
          if (t > 5000) note(`${elapsed()} ms: ${hp} has been dead for ${t} ms of normal operation and is still registered`), deadFor.set(hp, -1e9);
        }
        lastLook = now;
      } catch {
        // Redis down or frozen: look again later
        lastLook = Date.now();
      }
      await sleep(500);
    }
  })();

  // -- the faults
  const pending: Promise<void>[] = [];
  let redisChain: Promise<void> = Promise.resolve();
  const plantedQueues = new Set<string>();
  const candidates = (): { unit: Unit; pid: number }[] =>
    units.flatMap((u) => u.workerPids().filter((pid) => !frozen.has(pid)).map((pid) => ({ unit: u, pid })));
  const supervisor = units.find((u) => u.supervisor) as Unit;
  const killPid = (unit: Unit, pid: number) => {
    unit.killedPids.add(pid);
    frozen.delete(pid);
    signal(pid, "SIGKILL");
  };

  for (const f of faults) {
    await sleep(f.at - elapsed());
    counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    for (const u of units.filter((u) => u.supervisor)) for (const pid of u.workerPids()) grandchildren.add(pid);
    switch (f.kind) {
      case "freeze":
      case "freeze-long": {
        const all = candidates();
        if (!all.length) break;
        const { unit, pid } = all[Math.floor(f.pick * all.length)] as { unit: Unit; pid: number };
        const perSlots = unit.supervisor ? unit.slots / 2 : unit.slots;
        signal(pid, "SIGSTOP");
        frozen.add(pid);
        everFrozen.add(pid);
        const killAfter = f.kind === "freeze-long" && f.thenKill;
        // Even a short freeze can outlast --dead-after on a loaded machine (the last beat was up to an interval ago).
        dupBound += perSlots;
        log(`SIGSTOP ${unit.name}${unit.supervisor ? " child" : ""} pid ${pid} for ${f.holdMs} ms, then ${killAfter ? "SIGKILL" : "SIGCONT"}`);
        pending.push(sleep(f.holdMs).then(() => {
          if (!frozen.has(pid)) return;
          frozen.delete(pid);
          if (killAfter) killPid(unit, pid), (dupBound += perSlots);
          else signal(pid, "SIGCONT");
        }));
        break;
      }
      case "kill":
      case "kill-child": {
        const all = candidates().filter((c) => c.unit.supervisor === (f.kind === "kill-child"));
        if (!all.length) break;
        const { unit, pid } = all[Math.floor(f.pick * all.length)] as { unit: Unit; pid: number };
        log(`SIGKILL ${unit.name} ${unit.supervisor ? "child " : ""}pid ${pid}`);
        killPid(unit, pid);
        dupBound += unit.supervisor ? unit.slots / 2 : unit.slots;
        break;
      }
      case "kill-supervisor": {
        const w = supervisor.current;
        if (!w || !alive(w.pid)) break;
        const orphans = supervisor.workerPids();
        log(`SIGKILL supervisor pid ${w.pid} (children ${orphans.join(", ")})`);
        killPid(supervisor, w.pid);
        // Its children notice (their stdin pipe closes) and stop as on TERM; a frozen one once it is thawed.
        pending.push(waitFor(() => orphans.every((pid) => !stillOurs(pid) || frozen.has(pid) || procState(pid) === "T"), 10_000, "orphans").then(
          () => {},
          () => void note(`${elapsed()} ms: children ${orphans.filter(stillOurs).join(", ")} of the killed supervisor ${w.pid} still run 10 s later`),
        ));
        dupBound += supervisor.slots;
        break;
      }
      case "freeze-supervisor": {
        const w = supervisor.current;
        if (!w || !alive(w.pid) || frozen.has(w.pid)) break;
        const pid = w.pid;
        log(`SIGSTOP supervisor pid ${pid} for ${f.holdMs} ms`);
        signal(pid, "SIGSTOP");
        frozen.add(pid);
        pending.push(sleep(f.holdMs).then(() => {
          if (frozen.delete(pid)) signal(pid, "SIGCONT");
        }));
        break;
      }
      case "redis-restart":
      case "redis-freeze": {
        // A Redis outage longer than --dead-after makes every beat look stale: each worker may be reaped.
        dupBound += totalSlots;
        redisChain = redisChain.then(async () => {
          abnormal++;
          if (f.kind === "redis-restart") {
            log(`Redis killed for ${f.holdMs} ms`);
            await r.kill();
            await sleep(f.holdMs);
            await r.restart();
            log("Redis restarted");
          } else {
            log(`Redis frozen for ${f.holdMs} ms`);
            r.freeze();
            await sleep(f.holdMs);
            r.thaw();
            log("Redis thawed");
          }
          // Reaping starts again with the workers' next beats.
          await sleep(1000);
          abnormal--;
        });
        pending.push(redisChain);
        break;
      }
      case "plant-queue":
      case "plant-unused": {
        const choices = f.kind === "plant-unused" ? ["fz"] : QUEUES.filter((q) => !plantedQueues.has(q));
        pending.push((async () => {
          // Only an empty queue key can be replaced by a hash without losing its jobs: try each in turn.
          let planted: string | null = null;
          for (let k = 0; k < choices.length && !planted; k++) {
            const q = choices[(Math.floor(f.pick * choices.length) + k) % choices.length] as string;
            if (plantedQueues.has(q)) continue;
            const ok = await always((c) => evalScript(c, "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end redis.call('HSET', KEYS[1], 'planted', 'by the test') return 1", [`${NS}queue:${q}`], []), "plant a queue key");
            if (Number(ok) === 1) planted = q;
          }
          if (!planted) return log("plant: no empty queue key to replace");
          plantedQueues.add(planted);
          log(`queue:${planted} is a hash for ${f.holdMs} ms`);
          await sleep(f.holdMs);
          await always((c) => evalScript(c, "if redis.call('TYPE', KEYS[1]).ok == 'hash' then redis.call('DEL', KEYS[1]) end return 1", [`${NS}queue:${planted}`], []), "remove the planted queue key");
          plantedQueues.delete(planted);
          log(`queue:${planted} fixed`);
        })());
        break;
      }
      case "plant-stats": {
        // The counter's value is kept aside and put back: no script can change it meanwhile (all or nothing).
        const key = `${NS}${f.statKey}`;
        const saved = `${NS}test:saved:${f.statKey}`;
        if (counts[`planted ${key}`]) break;
        counts[`planted ${key}`] = 1;
        // Issue #14: the jobs a worker finished but could not record are kept, not handed back: no duplicates.
        plantedStats++;
        pending.push((async () => {
          const breakIt = f.statKey === "stat:processed" ? "redis.call('SET', KEYS[1], 'not a number')" : "redis.call('HSET', KEYS[1], 'planted', 'by the test')";
          await always((c) => evalScript(c, `redis.call('SET', KEYS[2], redis.call('GET', KEYS[1]) or '') redis.call('DEL', KEYS[1]) ${breakIt} return 1`, [key, saved], []), "break a counter");
          log(`${f.statKey} broken (${f.statKey === "stat:processed" ? "not a number" : "a hash"}) for ${f.holdMs} ms`);
          await sleep(f.holdMs);
          await always((c) => evalScript(c, "local v = redis.call('GET', KEYS[2]) redis.call('DEL', KEYS[1], KEYS[2]) if v and v ~= '' then redis.call('SET', KEYS[1], v) end return 1", [key, saved], []), "restore a counter");
          counts[`planted ${key}`] = 0;
          log(`${f.statKey} restored`);
          // Workers that exited 1 start again within RESTART_DELAY_MS; the supervisor's children back off longer.
          await sleep(2000);
          plantedStats--;
        })());
        break;
      }
      case "tamper-lanes": {
        // Issue #14: a lanes hash's token fields ("t<slot>") overwritten or deleted, or the whole hash deleted, under load:
        // the acks apply by slot (logged), nothing runs twice (no duplicate bound added).
        const lanes = (await always((c) => c.keys(`${NS}bunworker:lanes:*`), "list lanes hashes")) as string[];
        const key = lanes[Math.floor(f.pick * lanes.length)];
        if (!key) break;
        const how = f.holdMs % 3;
        const each = (cmd: string) => `for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do if string.match(f, '^t%d+$') then redis.call(${cmd}) end end return 1`;
        const script = how === 0 ? each("'HSET', KEYS[1], f, 'tampered'") : how === 1 ? each("'HDEL', KEYS[1], f") : "redis.call('DEL', KEYS[1]) return 1";
        await always((c) => evalScript(c, script, [key], []), "tamper with a lanes hash");
        log(`${key}: ${["tokens overwritten", "tokens deleted", "deleted"][how]}`);
        break;
      }
      default: {
        // Issue #14: a job that blocks the event loop or tries to end the process. No duplicate bound added.
        const j = faultJobs.get(f);
        if (!j) break;
        pending.push((async () => {
          for (let k = 0; ; k++) {
            const queue = QUEUES[(QUEUES.indexOf(j.queue as (typeof QUEUES)[number]) + k) % QUEUES.length] as string;
            const n = Number(await always((c) => evalScript(c, PUSH, [`${NS}queue:${queue}`, `${NS}test:pushed`], [j.id, j.payload]), `push ${j.id}`, 60_000));
            if (n >= 0) break;
            await sleep(k >= QUEUES.length ? 100 : 0);
          }
          pushed++;
          log(`pushed ${j.payload}`);
        })());
      }
    }
  }

  // -- heal: every fault ends, every frozen process runs again
  await Promise.all(pending);
  for (const pid of frozen) signal(pid, "SIGCONT");
  frozen.clear();
  await timed(pusher, 60_000, "the pusher");
  await timed(delayedPusher, 60_000, "the delayed writer");
  log(`healed; ${pushed} jobs pushed`);
  expect(pushed).toBe(jobsTotal);

  // An operator's requeue of the jobs a dead worker could not hand back to a queue key of the wrong type, and of
  // jobs that were in flight in three processes the test killed (Bunworker::CrashedWorker: a crash loop stopped).
  let requeuedByHand = 0;
  let crashedByHand = 0;
  const requeueFailed = async () => {
    const entries = (await always((c) => c.lrange(`${NS}failed`, 0, -1), "read failed")) as string[];
    for (const e of entries) {
      const entry = JSON.parse(e) as { exception: string; queue: string; payload: unknown };
      // A delayed item promoted into a planted queue key keeps its bytes, `queue` included (promote-4.lua).
      const badQueue = entry.exception === "Bunworker::BadQueueKey";
      if (entry.exception !== "Bunworker::RequeueFailed" && entry.exception !== "Bunworker::CrashedWorker" && !badQueue) continue;
      const item = entry.payload as { class: string; args: unknown[]; queue: string };
      const [queue, payload] = badQueue ? [item.queue, { class: item.class, args: item.args }] : [entry.queue, entry.payload];
      const moved = await always((c) => evalScript(c, "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[2]) return 1 end return 0", [`${NS}failed`, `${NS}queue:${queue}`], [e, JSON.stringify(payload)]), "requeue by hand");
      if (entry.exception === "Bunworker::CrashedWorker") crashedByHand += Number(moved);
      else requeuedByHand += Number(moved);
    }
  };
  await requeueFailed();

  // With every fault healed, the lock's holder (or a process that took over from a dead one) promotes every
  // delayed item: all were due by the end of the schedule.
  await waitFor(async () => Number(await once((c) => c.send("ZCARD", [`${NS}delayed_queue_schedule`]))) === 0, 40_000, "every delayed item to be promoted");
  await requeueFailed();

  // With every fault healed, no worker stays registered for a dead process (reaping takes a heartbeat or two).
  for (const u of units.filter((u) => u.supervisor)) for (const pid of u.workerPids()) grandchildren.add(pid);
  const registeredDead = async () => {
    const [procs, beats, ids] = await once((c) => Promise.all([c.hkeys(`${NS}bunworker:processes`), c.hkeys(`${NS}bunworker:beats`), c.smembers(`${NS}workers`)]));
    const pidOf = (s: string) => Number(s.split(":")[1]);
    return [...new Set([...procs, ...beats, ...ids].filter((p) => !alive(pidOf(p))).map((p) => p.split(":").slice(0, 2).join(":")))];
  };
  await waitFor(async () => (await registeredDead()).length === 0, 10_000, "no registration of a dead process").catch(async (e) => {
    throw new Error(`${(e as Error).message}: ${(await registeredDead()).join(", ")}`);
  });

  // -- stop every unit with TERM (never one just killed: each is waited for until it has started)
  monitoring = false;
  await monitor;
  for (const u of units) u.restarting = false;
  /** Worker processes alive when the test stops them: a reaper must never have taken one for dead unless frozen. */
  const finalPids = new Set<number>();
  const stops = await Promise.all(units.map(async (u) => {
    const w = await waitFor(() => u.ready() ?? (!u.current || u.gone.has(u.current) ? "gone" : null), 30_000, `${u.name} to be up for its TERM`);
    if (w === "gone") {
      log(`${u.name}: no process to stop (its last one exited ${u.exits.at(-1)?.signal ?? u.exits.at(-1)?.code})`);
      return 0;
    }
    for (const pid of u.workerPids()) finalPids.add(pid);
    signal(w.pid, "SIGCONT");
    w.signal("SIGTERM");
    const code = await w.exited;
    if (code !== 0) note(`${u.name} pid ${w.pid} exited ${code} on TERM:\n${w.output().slice(-1500)}`);
    return code;
  }));
  await waitFor(() => [...grandchildren].every((pid) => !stillOurs(pid)), 15_000, "every supervisor child to exit");
  log(`every unit stopped (exit status ${stops.join(", ")})`);
  await requeueFailed();

  // -- one clean worker drains what was handed back and reaps whatever is left
  const drain = spawnWorker([...common, "--queues=*", "--concurrency=8", "--exit-on-complete"]);
  const drained = await timed(drain.exited, 60_000, "the draining worker");
  for (const m of drain.output().matchAll(/worker process (\S+) is dead/g)) reaped.add(m[1] as string);
  // A process reaped while alive (frozen, or its beat late on a loaded machine) may run its jobs twice too.
  const bound = dupBound + reaped.size * 4;
  log("drained");
  if (drained !== 0) console.log(drain.output());
  expect(drained).toBe(0);

  // -- the verdict
  const end = await always(snapshot, "final snapshot");
  // Issue #14: no live process reaped (a loop blocking it, a fleet's mixed settings), unless the test froze it.
  const reapedLive = [...reaped].filter((p) => finalPids.has(Number(p.split(":")[1])) && !everFrozen.has(Number(p.split(":")[1])));
  // Each exiting job is one failure entry of its kind; nothing else is in the failed list.
  const failures = end.failed.map((f) => JSON.parse(f) as { payload: unknown; exception: string });
  const exitingIds = new Set(exiting.map((j) => j.id));
  const missing = [...end.pushed].filter((id) => !(end.runs.get(id) ?? 0));
  const runs = [...end.runs.values()];
  const duplicates = runs.reduce((n, x) => n + x - 1, 0);
  const exits = units.flatMap((u) => u.exits);
  const unexpectedExits = exits.filter((x) => {
    if (x.signal === "SIGKILL" && units.some((u) => u.killedPids.has(x.pid))) return false;
    if (x.code === 0) return false;
    // Exit status 1 is on purpose while a counter is broken, or when Redis is down at start-up. (A worker
    // stopping for a broken counter gives up handing its jobs back after 2 x --command-timeout of Redis outage,
    // and its last line then names the outage; the reapers recover those jobs.)
    return !(x.code === 1 && (x.brokenCounter || /cannot reach Redis/.test(x.error)));
  });
  const [procs, beats, ids, own, heartbeats, leftKeys, leftDelayed] = await once((c) =>
    Promise.all([c.hlen(`${NS}bunworker:processes`), c.hlen(`${NS}bunworker:beats`), c.scard(`${NS}workers`), c.keys(`${NS}bunworker:*`), c.hlen(`${NS}workers:heartbeat`), c.keys(`${NS}worker:*`), c.keys(`${NS}*delayed*`).then(async (d) => [...d, ...(await c.keys(`${NS}timestamps:*`))])]),
  );
  const statValues = [...end.stats.entries()];
  console.log(
    `fault-injection seed ${SEED}: ${jobsTotal} jobs; faults ${JSON.stringify(Object.fromEntries(Object.entries(counts).filter(([k]) => !k.startsWith("planted"))))}; ` +
      `${units.reduce((n, u) => n + u.starts, 0)} unit starts, exits: ${exits.map((x) => x.signal ?? (x.code === 1 ? `1 (${/cannot reach Redis/.test(x.error) ? "Redis down at start" : x.brokenCounter ? `broken counter${/stat:/.test(x.error) ? "" : `, then "${x.error}"`}` : x.error || "?"})` : x.code)).join(", ")}; ` +
      `${snapshots} snapshots; the master lock held by ${lockHolders.size} processes in turn; ${requeuedByHand} RequeueFailed and ${crashedByHand} CrashedWorker entries requeued by hand; ${reaped.size} processes reaped, none of them live and unfrozen: ${reapedLive.length === 0}; ${duplicates} duplicate runs (bound ${bound}: faults ${dupBound} + ${reaped.size} processes reaped × 4); stats ${JSON.stringify(Object.fromEntries(statValues))}`,
  );

  expect(violations).toEqual([]);
  expect(unexpectedExits.map((x) => `${x.unit} pid ${x.pid}: ${x.signal ?? `status ${x.code}`}: ${x.error}\n${x.tail}`)).toEqual([]);
  expect(stops.every((c) => c === 0)).toBe(true);
  expect(reapedLive).toEqual([]);
  expect(end.pushed.size).toBe(jobsTotal);
  expect(missing.slice(0, 20)).toEqual([]);
  expect(end.runs.size).toBe(jobsTotal);
  expect(Math.min(...runs)).toBeGreaterThanOrEqual(1);
  expect(duplicates).toBeLessThanOrEqual(bound);
  expect([...end.places.entries()].filter(([id, where]) => !(exitingIds.has(id) && where.join() === "failed")).slice(0, 20)).toEqual([]);
  expect(failures.map((f) => [jobId(f.payload), f.exception]).sort()).toEqual(exiting.map((j) => [j.id, EXCEPTION[j.cls] as string]).sort());
  for (const [k, v] of statValues) expect(`${k}=${v}`).toMatch(/=(0|[1-9]\d*)$/);
  // Each job's outcome is recorded once, however often it ran: an ack applies only to the take it names.
  expect(Number(end.stats.get(`${NS}stat:processed`))).toBe(jobsTotal);
  expect(Number(end.stats.get(`${NS}stat:failed`) ?? 0)).toBe(exiting.length);
  expect({ procs, beats, ids, heartbeats }).toEqual({ procs: 0, beats: 0, ids: 0, heartbeats: 0 });
  expect(own).toEqual([]);
  expect(leftKeys).toEqual([]);
  expect(leftDelayed).toEqual([]);
  await r.stop();
  redis = undefined;
}, 160_000);

// Issue #14: an evicting server, seeded the same way. A private Redis with a small maxmemory and
// maxmemory-policy allkeys-lru (a common managed-Redis default); two workers of a mixed fleet; a pusher adds
// padded jobs in bursts and another application's cache keys beside them, until the server evicts. Eviction
// loses whatever it picks: queued jobs, running jobs' worker:<id> records, registrations, counters, and the
// test's own counts in Redis, so each run is counted in a file (test/helpers/ledger-worker.ts). What can
// still be promised, and is checked: each worker warned once at start, naming the policy; the server really
// evicted; no job ran twice (a state or lanes hash evicted under a running job is acked by slot, and a live
// process is never reaped: these are on one host, where /proc judges it); every run was of a pushed job; the
// workers keep running and stop with status 0, leaving nothing in flight. Evicted jobs never run: the count
// lost is printed, not checked (it is whatever the server chose).
const LEDGER_WORKER = new URL("./helpers/ledger-worker.ts", import.meta.url).pathname;

test(`an evicting server (seed ${SEED}): one warning per worker at start, evicted jobs are lost, nothing runs twice`, async () => {
  const rng = mulberry32(SEED ^ 0x5eed);
  // 3 MB: above what the server and its clients need by themselves (2 MB is not: every write answers OOM), small
  // enough that the jobs themselves are evicted, not only the cache keys.
  const maxmemoryMb = 3;
  const dir = mkdtempSync(join(tmpdir(), "bunworker-evict-"));
  const ledger = join(dir, "runs");
  const r = await startRedis({ extra: ["--maxmemory", `${maxmemoryMb}mb`, "--maxmemory-policy", "allkeys-lru"] });
  redis = r;
  const workers: WorkerProcess[] = [];
  try {
    const fleet = Array.from({ length: 2 }, () => {
      const hb = rng.pick([0.25, 0.5, 1]);
      return { hb, deadAfter: hb * rng.pick([2, 3, 6]), concurrency: rng.int(2, 4) };
    });
    for (const f of fleet) {
      workers.push(spawnWorker([`--uri=${r.url}`, `--namespace=${NS}`, "--queues=ea,eb", `--concurrency=${f.concurrency}`, `--heartbeat-interval=${f.hb}`, `--dead-after=${f.deadAfter}`,
        "--command-timeout=2", "--shutdown-timeout=2", "--interval=0.5"], { script: LEDGER_WORKER, env: { LEDGER_FILE: ledger } }));
    }
    for (const w of workers) await w.waitForOutput(/started:/);
    // Bursts of padded jobs (16-32 KB each), and cache keys of another application, for about 5 s.
    const ids: string[] = [];
    const pad = (n: number) => Buffer.alloc(n, String.fromCharCode(97 + rng.int(0, 25))).toString();
    for (let burst = 0, t0 = Date.now(); Date.now() - t0 < 5000; burst++) {
      const queue = rng.pick(["ea", "eb"]);
      const jobs = Array.from({ length: rng.int(5, 25) }, () => {
        const id = `e${ids.length}`;
        ids.push(id);
        return JSON.stringify({ class: "Count", args: [id, rng.int(5, 40), pad(rng.int(16_000, 32_000))] });
      });
      // Retried: a server that cannot free enough memory answers OOM (an RPUSH is one command: all or nothing).
      await always((c) => c.send("RPUSH", [`${NS}queue:${queue}`, ...jobs]), `push burst ${burst}`);
      await always((c) => c.send("SET", [`cache:${burst}`, pad(rng.int(50_000, 200_000))]), `cache key ${burst}`);
      await sleep(rng.int(50, 250));
    }
    // Quiet: no queued and no running job for a second.
    let quietSince = 0;
    await waitFor(async () => {
      const busy = await once(async (c) => Number(await c.llen(`${NS}queue:ea`)) + Number(await c.llen(`${NS}queue:eb`)) + (await c.keys(`${NS}worker:*`)).filter((k) => !k.endsWith(":started")).length);
      if (busy > 0) quietSince = 0;
      else quietSince ||= Date.now();
      return quietSince > 0 && Date.now() - quietSince > 1000;
    }, 60_000, "the queues to empty and the slots to idle");
    const info = String(await once((c) => c.send("INFO", ["stats"])));
    const evicted = Number(/evicted_keys:(\d+)/.exec(info)?.[1] ?? 0);
    for (const w of workers) expect(w.proc.exitCode).toBeNull();
    for (const w of workers) w.signal("SIGTERM");
    const codes = await Promise.all(workers.map((w) => w.exited));
    const runs = readFileSync(ledger, "utf8").split("\n").filter(Boolean);
    const counts = new Map<string, number>();
    for (const id of runs) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    const pushed = new Set(ids);
    console.log(`evicting server (seed ${SEED}): maxmemory ${maxmemoryMb} MB, fleet ${JSON.stringify(fleet)}; ${ids.length} jobs pushed, ${counts.size} ran, ${ids.length - counts.size} lost to eviction; ${evicted} keys evicted; ${twice.length} ran twice`);
    expect(codes).toEqual(workers.map(() => 0));
    for (const w of workers) expect(w.output().match(/maxmemory-policy allkeys-lru: under memory pressure it evicts any key[^\n]*noeviction/g)?.length).toBe(1);
    expect(evicted).toBeGreaterThan(0);
    expect(twice).toEqual([]);
    expect([...counts.keys()].filter((id) => !pushed.has(id))).toEqual([]);
    expect(counts.size).toBeGreaterThan(0);
    expect(await once((c) => c.keys(`${NS}worker:*`))).toEqual([]);
  } finally {
    for (const w of workers) if (w.proc.exitCode === null) w.signal("SIGKILL");
    await r.stop();
    redis = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}, 100_000);
