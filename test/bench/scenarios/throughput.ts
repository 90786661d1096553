// One throughput run, shared by drain, slots and processes: pre-fill a queue with N identical jobs, start the
// worker with --exit-on-complete, time first job taken -> worker exit (or -> last job processed when the
// worker does not exit by itself), and collect worker CPU (wait4 rusage), Redis CPU and Redis commands
// (INFO deltas minus the harness's own commands) per job. `repeated` runs it --repeat times and keeps the
// median run.
import type { Harness } from "../harness/harness";
import { PeakSampler, type MemoryPeak } from "../harness/memory";
import { NS } from "../harness/options";
import { delta, perJob, type BenchRedis, type Delta } from "../harness/redis";
import { workerName, type Result } from "../harness/results";
import { round } from "../harness/stats";
import { epochMs, log, within } from "../harness/util";
import { stopWorker, tail, type Worker } from "../harness/workers";

export interface RunSpec {
  scenario: string;
  queue: string;
  jobs: number;
  payload: string;
  concurrency: number;
  processes: number;
  /** Give up on the run after this long. */
  timeoutMs: number;
}

async function prefill(redis: BenchRedis, queue: string, payload: string, n: number): Promise<void> {
  const key = `${NS}queue:${queue}`;
  const batch = 1000;
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batch) {
    const items = new Array<string>(Math.min(batch, n - i)).fill(payload);
    pending.push(redis.cmd("RPUSH", [key, ...items]));
    if (pending.length >= 50) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await redis.cmd("SADD", [`${NS}queues`, queue]);
  const len = Number(await redis.cmd("LLEN", [key]));
  if (len !== n) throw new Error(`prefill: ${key} holds ${len} items, expected ${n}`);
}

const processedCount = async (redis: BenchRedis) => Number((await redis.cmd<string | null>("GET", [`${NS}stat:processed`])) ?? 0);

/** First job taken: the queue got shorter (polled every ms; LLEN is O(1)). */
async function waitFirstJob(redis: BenchRedis, w: Worker, spec: RunSpec, deadline: number): Promise<number | null> {
  const qkey = `${NS}queue:${spec.queue}`;
  while (w.exitedAt === null && Date.now() < deadline) {
    const len = Number(await redis.cmd("LLEN", [qkey]));
    if (len < spec.jobs) return epochMs();
    await within(w.exited, 1);
  }
  return null;
}

/** When stat:processed first reached 10 % and 90 % of the jobs: the steady rate between them leaves out the
 * ramp (slots filling) and the last wave, which weigh on a run of few waves. */
interface Marks {
  at10: number | null;
  at90: number | null;
}

/** Last job processed: Resque's stat:processed reached the job count (polled every 2 ms), or the worker exited. */
async function waitLastJob(redis: BenchRedis, w: Worker, spec: RunSpec, deadline: number, marks: Marks): Promise<number | null> {
  while (w.exitedAt === null && Date.now() < deadline) {
    const n = await processedCount(redis);
    if (marks.at10 === null && n >= spec.jobs * 0.1) marks.at10 = epochMs();
    if (marks.at90 === null && n >= spec.jobs * 0.9) marks.at90 = epochMs();
    if (n >= spec.jobs) return epochMs();
    await within(w.exited, 2);
  }
  return null;
}

/**
 * Every worker gets 3 s to exit by itself (the default one runs with --exit-on-complete and should, at once);
 * then it gets SIGTERM, and the run ends at its last processed job. Returns whether it exited by itself.
 */
async function awaitExit(w: Worker, spec: RunSpec, deadline: number, doneAt: number | null): Promise<boolean> {
  if (w.exitedAt === null && Date.now() < deadline) await within(w.exited, Math.min(3000, Math.max(0, deadline - Date.now())));
  const exitedByItself = w.exitedAt !== null;
  if (!exitedByItself) await stopWorker(w);
  if (w.exitedAt === null) throw new Error(`${spec.scenario}: worker did not exit`);
  if (w.code !== 0 && exitedByItself && doneAt === null) throw new Error(`${spec.scenario}: worker exited with status ${w.code}:\n${tail(w)}`);
  return exitedByItself;
}

interface Run {
  spec: RunSpec;
  w: Worker;
  firstAt: number;
  doneAt: number;
  exitedByItself: boolean;
  marks: Marks;
  d: Delta;
  mem: MemoryPeak;
}

function timingFields({ spec, w, firstAt, doneAt, exitedByItself, marks }: Run, end: number): Record<string, unknown> {
  const seconds = (end - firstAt) / 1000;
  const steady = marks.at10 !== null && marks.at90 !== null && marks.at90 > marks.at10 ? (spec.jobs * 0.8) / ((marks.at90 - marks.at10) / 1000) : null;
  return {
    seconds: round(seconds, 3),
    jobs_per_s: Math.round(spec.jobs / seconds),
    steady_jobs_per_s: steady === null ? null : Math.round(steady),
    seconds_from_spawn: round((end - w.spawnedAt) / 1000, 3),
    jobs_per_s_from_spawn: Math.round(spec.jobs / ((end - w.spawnedAt) / 1000)),
    seconds_processing: round((doneAt - firstAt) / 1000, 3),
    spawn_to_first_job_ms: round(firstAt - w.spawnedAt, 1),
    last_job_to_exit_ms: exitedByItself ? round((w.exitedAt as number) - doneAt, 1) : null,
    exited_by_itself: exitedByItself,
    exit_code: w.code,
  };
}

function cpuFields({ spec, w, d, mem }: Run, end: number): Record<string, unknown> {
  const ru = w.proc.resourceUsage();
  const cpuUs = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) : NaN;
  const evals = (d.calls.get("evalsha") ?? 0) + (d.calls.get("eval") ?? 0);
  const scriptUsec = (d.usec.get("evalsha") ?? 0) + (d.usec.get("eval") ?? 0);
  const redisUs = d.cpuUs / spec.jobs;
  return {
    worker_cpu_us_per_job: round(cpuUs / spec.jobs, 2),
    worker_user_s: ru ? round(Number(ru.cpuTime.user) / 1e6, 3) : null,
    worker_sys_s: ru ? round(Number(ru.cpuTime.system) / 1e6, 3) : null,
    worker_cpu_cores: round(cpuUs / 1e6 / ((end - w.spawnedAt) / 1000), 2),
    redis_cpu_us_per_job: round(redisUs, 2),
    // One Redis core's worth of jobs at this cost: the ceiling of a whole fleet sharing one Redis.
    fleet_ceiling_jobs_per_s: Math.round(1e6 / redisUs),
    redis_cpu_cores: round(d.cpuUs / 1e6 / ((end - w.spawnedAt) / 1000), 2),
    redis_cmds_per_job: round(d.commands / spec.jobs, 3),
    evalsha_per_job: round(evals / spec.jobs, 4),
    jobs_per_evalsha: evals ? round(spec.jobs / evals, 1) : null,
    script_usec_per_job: round(scriptUsec / spec.jobs, 2),
    script_usec_per_call: evals ? round(scriptUsec / evals, 2) : null,
    redis_calls_per_job: perJob(d, spec.jobs),
    peak_rss_mb: mem.peakMb,
    peak_rss_tree_sum_mb: mem.treeSumMb,
    peak_rss_at_20pct_mb: mem.at(0.2),
    rss_samples: mem.samples,
    spawn_maxrss_mb: ru ? round(ru.maxRSS / 1048576, 1) : null,
  };
}

function runResult(h: Harness, run: Run, counts: { processed: number; failed: number; left: number }): Result {
  const { spec, w } = run;
  const end = run.exitedByItself ? (w.exitedAt as number) : run.doneAt;
  const head = { scenario: spec.scenario, worker: workerName(h.opts), jobs: spec.jobs, concurrency: spec.concurrency, processes: spec.processes };
  return { ...head, ...timingFields(run, end), ...cpuFields(run, end), processed: counts.processed, failed: counts.failed, left_in_queue: counts.left };
}

export async function throughput(h: Harness, spec: RunSpec): Promise<Result> {
  const { redis } = h;
  await redis.cmd("FLUSHALL");
  await prefill(redis, spec.queue, spec.payload, spec.jobs);
  const before = await redis.snapshot();
  redis.ownCommands = 1;
  const w = h.workers.spawn({ queues: [spec.queue], concurrency: spec.concurrency, processes: spec.processes, exitOnComplete: true }, spec.scenario);
  const sampler = new PeakSampler(w.proc.pid);
  const deadline = Date.now() + spec.timeoutMs;
  try {
    const firstAt = await waitFirstJob(redis, w, spec, deadline);
    const marks: Marks = { at10: null, at90: null };
    let doneAt = await waitLastJob(redis, w, spec, deadline, marks);
    const exitedByItself = await awaitExit(w, spec, deadline, doneAt);
    await within(w.exited, 1000); // its output (the exit-time VmHWM report) is read to the end
    const mem = sampler.stop(w.output());
    const own = redis.ownCommands;
    const after = await redis.snapshot();
    const processed = await processedCount(redis);
    const failed = Number((await redis.cmd<string | null>("GET", [`${NS}stat:failed`])) ?? 0);
    const left = Number(await redis.cmd("LLEN", [`${NS}queue:${spec.queue}`]));
    if (doneAt === null && processed >= spec.jobs) doneAt = w.exitedAt;
    if (firstAt === null || doneAt === null) throw new Error(`${spec.scenario}: ${processed} of ${spec.jobs} jobs processed before the timeout or exit (status ${w.code}):\n${tail(w)}`);
    return runResult(h, { spec, w, firstAt, doneAt, exitedByItself, marks, d: delta(before, after, own), mem }, { processed, failed, left });
  } finally {
    sampler.stop("");
    if (w.exitedAt === null) await stopWorker(w, 3000);
  }
}

/** `repeat` runs of one measurement; the run with the median jobs/s, plus the spread of all runs. */
export async function repeated(h: Harness, spec: RunSpec, rate: (r: Result) => number = (r) => r.jobs_per_s as number): Promise<Result> {
  const { opts } = h;
  const runs: Result[] = [];
  for (let i = 0; i < opts.repeat; i++) {
    if (opts.repeat > 1) log(`${spec.scenario}: run ${i + 1} of ${opts.repeat}`);
    runs.push(await throughput(h, spec));
  }
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as Result;
  if (runs.length > 1) {
    mid.runs = runs.length;
    mid.jobs_per_s_all_runs = runs.map(rate);
    mid.worker_cpu_us_per_job_all_runs = runs.map((r) => r.worker_cpu_us_per_job as number);
    mid.redis_cpu_us_per_job_all_runs = runs.map((r) => r.redis_cpu_us_per_job as number);
  }
  return mid;
}
