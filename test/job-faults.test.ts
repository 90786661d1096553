// Issue #14, seeded: job-side faults and fleet settings that are no fault at all, mixed at random (reproducibly).
// Three worker processes with seeded, different --heartbeat-interval / --dead-after / --concurrency serve two
// queues while a pusher adds ordinary jobs in bursts, with, at seeded moments, jobs that block the event loop
// (a synchronous loop in the first call, or after an await, for 1-4 times the shortest --dead-after in the fleet),
// and jobs that call process.exit(0|1|2), exit from a timer, call process.abort(), or throw from a timer.
// None of this may reap a worker, end one, or run anything twice. Afterwards: every ordinary and blocking job
// ran exactly once and succeeded, every exiting job ran once and is one failure record of its kind, the counters
// agree, no worker logged another as dead, every worker exits 0 on TERM, and nothing is left registered.
//
// Replay a failure with FAULT_SEED=<the seed printed> bun test test/job-faults.test.ts
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { faultSeed, mulberry32 } from "./helpers/seeded";
import { spawnWorker } from "./helpers/worker-process";

const SEED = faultSeed(20261202, "job-faults");
const HOSTILE = new URL("./fixtures/hostile-worker.ts", import.meta.url).pathname;
const QUEUES = ["ja", "jb"];
const PUSH_MS = 9000;

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

type Exiting = "Exit" | "ExitLater" | "Abort" | "ThrowLater";
const EXCEPTION: Record<Exiting, string> = { Exit: "ProcessExitError", ExitLater: "ProcessExitError", Abort: "ProcessAbortError", ThrowLater: "RangeError" };

test(`seeded job faults and mixed settings (seed ${SEED}): no worker reaped or ended, every job runs exactly once`, async () => {
  const rng = mulberry32(SEED);
  const fleet = Array.from({ length: 3 }, () => {
    const hb = rng.pick([0.25, 0.5, 1]);
    return { hb, deadAfter: hb * rng.pick([2, 3, 6]), concurrency: rng.int(3, 5) };
  });
  const shortest = Math.min(...fleet.map((f) => f.deadAfter));
  // The plan: bursts of ordinary jobs, and faults at seeded moments.
  const plan: { at: number; queue: string; payload: string; id: string; kind: "Count" | "Spin" | "SpinNow" | Exiting }[] = [];
  let n = 0;
  const KINDS = ["Spin", "SpinNow", "Exit", "ExitLater", "Abort", "ThrowLater"] as const;
  const fault = (at: number, kind: (typeof KINDS)[number]) => {
    const id = `${kind.toLowerCase()}${n++}`;
    const ms = Math.round(Math.min(4000, shortest * 1000 * rng.between(1, 4)));
    const args = kind === "Spin" || kind === "SpinNow" ? [id, ms] : kind === "Exit" ? [id, rng.int(0, 2)] : [id];
    plan.push({ at, queue: rng.pick(QUEUES), id, kind, payload: JSON.stringify({ class: kind, args }) });
  };
  for (let at = 0; at < PUSH_MS; at += rng.int(200, 900)) {
    for (let k = rng.int(1, 6); k > 0; k--) {
      const id = `c${n++}`;
      plan.push({ at, queue: rng.pick(QUEUES), id, kind: "Count", payload: JSON.stringify({ class: "Count", args: [id, rng.int(20, 600)] }) });
    }
    if (rng.chance(0.35)) fault(at, rng.pick(KINDS));
  }
  // Every kind at least once, at a seeded moment.
  for (const kind of KINDS) if (!plan.some((p) => p.kind === kind)) fault(rng.int(0, PUSH_MS), kind);
  plan.sort((a, b) => a.at - b.at);
  const exiting = plan.filter((p) => p.kind in EXCEPTION);
  console.log(`job-faults: fleet ${JSON.stringify(fleet)}; ${plan.length} jobs, faults: ${plan.filter((p) => p.kind !== "Count").map((p) => `${p.at}ms ${p.payload}`).join(", ")}`);

  const workers = fleet.map((f) => spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, `--queues=${QUEUES.join(",")}`, `--concurrency=${f.concurrency}`,
    `--heartbeat-interval=${f.hb}`, `--dead-after=${f.deadAfter}`, "--command-timeout=2", "--shutdown-timeout=5", "--interval=0.5"], { script: HOSTILE }));
  for (const w of workers) await w.waitForOutput(/started:/);
  const t0 = Date.now();
  for (const p of plan) {
    await Bun.sleep(Math.max(0, t0 + p.at - Date.now()));
    await c.rpush(`${ns}queue:${p.queue}`, p.payload);
  }
  const total = plan.length;
  await waitFor(async () => Number((await c.get(`${ns}stat:processed`)) ?? 0) >= total, 60_000, `${total} jobs processed`);
  // Past the moment a wrongly reaped worker would have re-registered and run its jobs again.
  await Bun.sleep(Math.max(...fleet.map((f) => f.deadAfter)) * 1000 + 500);
  for (const w of workers) expect(w.proc.exitCode).toBeNull();
  for (const w of workers) w.signal("SIGTERM");
  for (const w of workers) expect(await w.exited).toBe(0);

  const runs = (await c.hgetall(`${ns}test:runs`)) as Record<string, string>;
  const twice = Object.entries(runs).filter(([, v]) => v !== "1");
  expect(twice).toEqual([]);
  expect(Object.keys(runs).sort()).toEqual(plan.map((p) => p.id).sort());
  const failed = ((await c.lrange(`${ns}failed`, 0, -1)) as string[]).map((f) => JSON.parse(f) as { payload: { args: string[] }; exception: string });
  expect(failed.map((f) => [f.payload.args[0], f.exception]).sort()).toEqual(exiting.map((p) => [p.id, EXCEPTION[p.kind as Exiting]]).sort());
  expect(await c.get(`${ns}stat:processed`)).toBe(String(total));
  expect(Number((await c.get(`${ns}stat:failed`)) ?? 0)).toBe(exiting.length);
  for (const q of QUEUES) expect(await c.llen(`${ns}queue:${q}`)).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect(await c.hlen(`${ns}bunworker:beats`)).toBe(0);
  for (const w of workers) expect(w.output()).not.toMatch(/is dead|uncaught exception/);
}, 120_000);
