// Scenario "queues" (issue #10): Resque shops run workers on `*` with hundreds or thousands of queues. With
// 1,000 empty queues q0000..q0999 in resque:queues (only the set members: Redis deletes empty lists), one
// idle worker on --queues=* is measured from outside, so any worker command can be compared:
//   - connections: CLIENT LIST entries minus the harness's own, once their number has settled;
//   - idle_cmds_per_s: Redis commands the worker causes per second over --idle-seconds (scripts included);
//   - pickup p50/p99 of "Stamp" jobs on the first, middle and last queue (rows queues:first|middle|last), and
//     spread over the queues (queues:spread: each job on another queue of q0001..q0998, drawn at random, so
//     that a worker cannot have a wait ready on it from the jobs before), with the worker's connections after.
// Connections and idle traffic are measured with the worker's default --interval. A worker may visit
// non-priority queues only once per --interval, so pickups are measured with a second worker run with
// --interval=1 (the {interval} placeholder of a --worker-cmd), each wait capped at 2 × interval + 5 s, and
// each gap lengthened by a random part of the interval, so that sends do not always fall at the same point
// of a poll cycle (p50 then approaches interval / 2 for a polled queue).
// The variant queues:notify does the same with notify-keyspace-events El (keyevent messages for list
// commands) set before the worker starts, so a worker can be told which list got a job; queues:3 measures a
// worker on three listed queues for reference (connections and idle commands only).
import type { Harness } from "../harness/harness";
import { idleFields, idleTraffic } from "../harness/idle";
import { NS, type Options } from "../harness/options";
import { pickupFields, samplePickups, warmUp, type StampPlan } from "../harness/pickup";
import type { ClientCounts } from "../harness/redis";
import { workerName, type Result } from "../harness/results";
import { log, sleep, within } from "../harness/util";
import { stopWorker, tail, type Worker } from "../harness/workers";

const QUEUES = Array.from({ length: 1000 }, (_, i) => `q${String(i).padStart(4, "0")}`);
const POSITIONS = [["first", "q0000"], ["middle", "q0500"], ["last", "q0999"]] as const;
const CONCURRENCY = 25;
const INTERVAL_S = 1;

interface Variant {
  scenario: string;
  queues: string[];
  /** notify-keyspace-events while the worker runs ("" = off, the default). */
  notify: string;
  pickups: boolean;
}

const VARIANTS: Variant[] = [
  { scenario: "queues", queues: ["*"], notify: "", pickups: true },
  { scenario: "queues:notify", queues: ["*"], notify: "El", pickups: true },
  { scenario: "queues:3", queues: ["q0000", "q0001", "q0002"], notify: "", pickups: false },
];

/** The worker's --interval: 1 when it can be passed (default worker, or {interval} in --worker-cmd), else its assumed default. */
function intervalOf(opts: Options): { seconds: number; passed: boolean } {
  const passed = opts.workerCmd === undefined || opts.workerCmd.includes("{interval}");
  return { seconds: passed ? INTERVAL_S : 5, passed };
}

/** Fields every row of a variant starts with; `byDefault`: the worker ran with its own default --interval. */
function rowHead(h: Harness, v: Variant, scenario: string, byDefault = false): Result {
  const interval = intervalOf(h.opts);
  const head: Result = { scenario, worker: workerName(h.opts), queues: v.queues.join(","), queues_in_set: QUEUES.length, concurrency: CONCURRENCY, interval_s: byDefault ? "default" : interval.seconds };
  if (!interval.passed && !byDefault) head.interval_note = "the --worker-cmd has no {interval} placeholder: the worker's own interval is assumed to be 5 s";
  return { ...head, notify_keyspace_events: v.notify };
}

/** Registered (resque:workers not empty) and idle (no resque:worker:<id> holds a job), within 30 s. */
async function waitRegisteredIdle(h: Harness, w: Worker, label: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (w.exitedAt === null && Date.now() < deadline) {
    const ids = await h.redis.cmd<string[]>("SMEMBERS", [`${NS}workers`]);
    if (ids.length > 0 && Number(await h.redis.cmd("EXISTS", ids.map((id) => `${NS}worker:${id}`))) === 0) return;
    await within(w.exited, 100);
  }
  throw new Error(`${label}: the worker did not register (${w.exitedAt !== null ? `it exited with status ${w.code}` : "30 s"}):\n${tail(w)}`);
}

/** CLIENT LIST once the count has not changed for 1 s (a worker may open its connections gradually), within 20 s. */
async function settledClients(h: Harness, w: Worker): Promise<ClientCounts> {
  const deadline = Date.now() + 20_000;
  let last = await h.redis.clients();
  let stableSince = Date.now();
  while (w.exitedAt === null && Date.now() < deadline && Date.now() - stableSince < 1000) {
    await sleep(200);
    const now = await h.redis.clients();
    if (now.total !== last.total) stableSince = Date.now();
    last = now;
  }
  return last;
}

async function measureIdle(h: Harness, w: Worker, v: Variant): Promise<void> {
  const settled = await settledClients(h, w);
  log(`${v.scenario}: ${settled.total - settled.harness} connections; counting Redis commands for ${h.opts.idleSeconds} s of idleness`);
  const t = await idleTraffic(h, h.opts.idleSeconds);
  const after = await h.redis.clients();
  h.results.emit({
    ...rowHead(h, v, v.scenario, true),
    connections: settled.total - settled.harness,
    connections_after_idle: after.total - after.harness,
    harness_connections: settled.harness,
    ...idleFields(t),
    note: "connections = CLIENT LIST minus the harness's own; idle_cmds_per_s = total_commands_processed delta (script-internal commands included); idle_client_cmds_per_s = commands the worker sent (MONITOR)",
  });
}

/**
 * One result list per Stamp job, so that a job picked up after its wait was given up cannot count for the next.
 * Gaps are jittered only without notifications: then a queue past the waits is polled, and the jitter makes
 * the samples cover the poll's whole cycle; with notifications nothing is polled, and jitter only costs time.
 */
const planFor = (h: Harness, queue: string, v?: Variant): StampPlan => ({
  resultKey: (i) => `${NS}bench:stamps:${queue}:${i}`,
  timeoutS: 2 * intervalOf(h.opts).seconds + 5,
  jitterMs: v?.notify ? 0 : intervalOf(h.opts).seconds * 1000,
  samples: h.opts.queueSamples,
});

async function measurePickups(h: Harness, w: Worker, v: Variant): Promise<void> {
  for (const [position, queue] of POSITIONS) {
    const plan = planFor(h, queue, v);
    log(`${v.scenario}: ${plan.samples} pickups on ${queue} (${position}), ${h.opts.gapMs} ms apart, each waited for up to ${plan.timeoutS} s`);
    const s = await samplePickups(h, w, queue, plan);
    h.results.emit({ ...rowHead(h, v, `${v.scenario}:${position}`), queue, position, wait_cap_s: plan.timeoutS, ...pickupFields(s, h.opts.gapMs) });
  }
  const plan = planFor(h, "spread", v);
  const spread = QUEUES.slice(1, -1);
  const pick = (): string => spread[Math.floor(Math.random() * spread.length)] as string;
  log(`${v.scenario}: ${plan.samples} pickups spread over ${spread.length} queues, ${h.opts.gapMs} ms apart`);
  const s = await samplePickups(h, w, () => pick(), plan);
  const clients = await h.redis.clients();
  h.results.emit({ ...rowHead(h, v, `${v.scenario}:spread`), queue: "random", position: "spread", wait_cap_s: plan.timeoutS, ...pickupFields(s, h.opts.gapMs), connections_after: clients.total - clients.harness });
}

async function setNotify(h: Harness, value: string): Promise<void> {
  await h.redis.cmd("CONFIG", ["SET", "notify-keyspace-events", value]);
}

async function runVariant(h: Harness, v: Variant): Promise<void> {
  await h.redis.cmd("FLUSHALL");
  await h.redis.cmd("SADD", [`${NS}queues`, ...QUEUES]);
  await setNotify(h, v.notify);
  log(`${v.scenario}: one worker on --queues=${v.queues.join(",")} with ${QUEUES.length} queues in ${NS}queues${v.notify ? `, notify-keyspace-events ${v.notify}` : ""}`);
  try {
    await withWorker(h, v, undefined, (w) => measureIdle(h, w, v));
    if (v.pickups) await withWorker(h, v, INTERVAL_S, (w) => measurePickups(h, w, v));
  } finally {
    if (v.notify) await setNotify(h, "");
  }
}

/** One worker (registered, idle, warmed up by one job on q0000) for the length of `use`. */
async function withWorker(h: Harness, v: Variant, interval: number | undefined, use: (w: Worker) => Promise<void>): Promise<void> {
  const w = h.workers.spawn({ queues: v.queues, concurrency: CONCURRENCY, ...(interval === undefined ? {} : { interval }) }, v.scenario);
  try {
    await waitRegisteredIdle(h, w, v.scenario);
    await warmUp(h, w, v.scenario, "q0000", 4, { ...planFor(h, "q0000"), resultKey: (i) => `${NS}bench:warm:${i}` });
    await use(w);
  } finally {
    await stopWorker(w);
  }
}

export async function queues(h: Harness): Promise<void> {
  for (const v of VARIANTS) await runVariant(h, v);
}
