// The benchmark of issue #5: `bun run bench [--quick] [--scenarios=a,b] [--worker-cmd '<command>']`.
// It starts its own redis-server on a free port of 127.0.0.1 (no persistence), runs the REAL worker CLI as a
// child process (test/bench/bench-worker.ts by default, or any Resque-compatible worker via --worker-cmd),
// and prints one JSON line per result on stdout, then a markdown table. Progress goes to stderr.
// Every wait is bounded; the redis-server and every worker (with its whole process group) are killed on
// the way out, also after an error, SIGINT/SIGTERM or the global --timeout.
// This is not a test: it is not named *.test.ts and `bun test` does not run it. Run `bun run bench --help`.
import { RedisClient, type Subprocess } from "bun";
import { existsSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { scripts } from "../../src/scripts";
import { startRedis, type PrivateRedis } from "../helpers/redis";

const ROOT = new URL("../..", import.meta.url).pathname;
const BENCH_WORKER = `${ROOT}test/bench/bench-worker.ts`;
const NS = "resque:";
const ALL = ["drain", "latency", "slots", "processes", "startup"] as const;
type ScenarioName = (typeof ALL)[number];

const HELP = `bun run bench [options]

Starts a private redis-server on a free port of 127.0.0.1 (no persistence) and runs the worker CLI as a
child process against it. Prints one JSON line per result on stdout, then a markdown table with targets.

Scenarios (all by default, in this order):
  drain      200,000 pre-filled no-op jobs ({"class":"Noop","args":[]}) in queue "bench", --concurrency=25
             --exit-on-complete: jobs/s, worker and Redis CPU per job, Redis commands per job, peak RSS
  latency    idle worker on lat1,lat2,lat3 (--concurrency=25): one "Stamp" job at a time, ~300 ms apart,
             pickup p50/p99 on the first and the last queue; then Redis commands/s over 10 s of idleness
  slots      --concurrency=1000, "Sleep" 50 ms jobs: 30,000 jobs (bound 20,000 jobs/s)
  processes  "Cpu" 2 ms jobs, 2,000 jobs, --processes=1 vs --processes=2: jobs/s and the ratio
  startup    exec to first fetch (cycle EVALSHA seen by MONITOR), 10 runs, median: \`bun worker.ts\` and the
             compiled binary (--binary, default dist/bunworker; skipped with a note when absent)

Options:
  --scenarios=a,b        scenarios to run (${ALL.join(",")})
  --quick                smaller counts: drain 50,000, slots 10,000, processes 1,000, 50 pickups per queue,
                         5 start-ups
  --worker-cmd='<cmd>'   run this command (through sh -c, in its own process group) instead of the default
                         worker; the harness appends NOTHING. Placeholders substituted into the string:
                           {uri} redis://127.0.0.1:<port>/   {host} 127.0.0.1   {port} <port>
                           {queues} comma-separated queue list   {concurrency} slots   {processes} processes
                         The worker must use the "resque:" namespace, increment resque:stat:processed and
                         know the classes Noop, Sleep(ms), Cpu(ms), Stamp(sentEpochMs, resultKey) (Stamp
                         RPUSHes to resultKey the difference, in ms, between its clock on arrival and
                         sentEpochMs, both as performance.timeOrigin + performance.now()). It need not exit by
                         itself: 3 s after the last job it gets SIGTERM. "processes" is skipped unless
                         the command contains {processes}; "startup" measures the command itself. Prefer
                         "cd dir && exec cmd" so that SIGTERM reaches the worker and its CPU time is counted.
  --binary=<path>        compiled worker for the startup scenario (default dist/bunworker)
  --samples=<n>          pickups per measured queue (default 200, quick 50)
  --gap-ms=<ms>          idle time before each pickup (default 300)
  --idle-seconds=<s>     length of the idle-traffic window (default 60)
  --startup-runs=<n>     start-ups per command (default 10, quick 5)
  --repeat=<n>           runs of each throughput measurement (drain, slots, processes); the run with the
                         median jobs/s is reported, with the spread (default 3, quick 1)
  --timeout=<s>          give up on the whole benchmark after this many seconds (default 1200)
  --help                 this text

Fields: seconds = first job taken -> worker exit (exit-on-complete), or -> last job processed when the worker
does not exit by itself; seconds_from_spawn = spawn -> same end; worker_cpu_us_per_job = user+system time
of the worker process tree (wait4 rusage, children included) / jobs; redis_cpu_us_per_job = INFO cpu
used_cpu_user+used_cpu_sys delta / jobs; redis_cmds_per_job = INFO stats total_commands_processed delta
(commands run inside Lua scripts included, the harness's own commands excluded) / jobs; evalsha_per_job =
EVALSHA+EVAL calls / jobs; peak_rss_mb = wait4 maxrss of the worker process tree.`;

// ---------------------------------------------------------------- options

interface Options {
  scenarios: ScenarioName[];
  quick: boolean;
  workerCmd: string | undefined;
  binary: string;
  samples: number;
  gapMs: number;
  idleSeconds: number;
  startupRuns: number;
  repeat: number;
  timeoutS: number;
}

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenarios: { type: "string" },
      quick: { type: "boolean" },
      "worker-cmd": { type: "string" },
      binary: { type: "string" },
      samples: { type: "string" },
      "gap-ms": { type: "string" },
      "idle-seconds": { type: "string" },
      "startup-runs": { type: "string" },
      repeat: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const quick = values.quick === true;
  const num = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  const scenarios = (values.scenarios ?? ALL.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (known: ${ALL.join(", ")})`);
  return {
    scenarios: ALL.filter((s) => scenarios.includes(s)),
    quick,
    workerCmd: values["worker-cmd"],
    binary: values.binary ?? `${ROOT}dist/bunworker`,
    samples: Math.floor(num("samples", values.samples, quick ? 50 : 200, 1)),
    gapMs: num("gap-ms", values["gap-ms"], 300, 0),
    idleSeconds: num("idle-seconds", values["idle-seconds"], 60, 1),
    startupRuns: Math.floor(num("startup-runs", values["startup-runs"], quick ? 5 : 10, 1)),
    repeat: Math.floor(num("repeat", values.repeat, quick ? 1 : 3, 1)),
    timeoutS: num("timeout", values.timeout, 1200, 10),
  };
}

// ---------------------------------------------------------------- small utilities

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
/** Epoch milliseconds with sub-millisecond digits; the same clock as MONITOR timestamps and the Stamp job. */
const epochMs = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => Bun.sleep(ms);
const round = (x: number, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k] as number;
}

function median(xs: number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50);
}

/** Resolves after ms, or earlier when `p` settles; never rejects. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.then((v) => v, () => undefined), new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------- Redis: server, client, INFO snapshots

let redisServer: PrivateRedis | null = null;
let rc: RedisClient | null = null;
/** Commands the harness itself sent since the last reset (subtracted from total_commands_processed). */
let ownCommands = 0;

function redisClient(): RedisClient {
  if (!rc) throw new Error("no Redis client");
  return rc;
}

async function cmd<T = unknown>(name: string, args: string[] = []): Promise<T> {
  ownCommands++;
  return (await redisClient().send(name, args)) as T;
}

interface Snapshot {
  total: number;
  cpuS: number;
  calls: Map<string, number>;
  usec: Map<string, number>;
}

async function snapshot(): Promise<Snapshot> {
  const text = await cmd<string>("INFO", ["stats", "cpu", "commandstats"]);
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? NaN);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1] as string, Number(m[2]));
    usec.set(m[1] as string, Number(m[3]));
  }
  return { total: field("total_commands_processed"), cpuS: field("used_cpu_user") + field("used_cpu_sys"), calls, usec };
}

interface Delta {
  /** total_commands_processed delta minus the harness's own commands. */
  commands: number;
  cpuUs: number;
  calls: Map<string, number>;
  usec: Map<string, number>;
}

/** `own` = commands the harness sent between the two snapshots, the first INFO included. */
function delta(a: Snapshot, b: Snapshot, own: number): Delta {
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const [k, v] of b.calls) {
    const d = v - (a.calls.get(k) ?? 0);
    if (d > 0) calls.set(k, d), usec.set(k, (b.usec.get(k) ?? 0) - (a.usec.get(k) ?? 0));
  }
  return { commands: b.total - a.total - own, cpuUs: (b.cpuS - a.cpuS) * 1e6, calls, usec };
}

function perJob(d: Delta, jobs: number, top = 10): Record<string, number> {
  const out: Record<string, number> = {};
  const ignore = new Set(["info", "llen", "get"]); // the harness polls with LLEN/GET; shown only if the worker used many
  const entries = [...d.calls.entries()].filter(([k, v]) => !ignore.has(k) || v > 50).sort((x, y) => y[1] - x[1]).slice(0, top);
  for (const [k, v] of entries) out[k] = round(v / jobs, 3);
  return out;
}

// ---------------------------------------------------------------- worker processes

interface Worker {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  label: string;
  spawnedAt: number;
  exitedAt: number | null;
  code: number | null;
  exited: Promise<number>;
  output(): string;
}

const live = new Set<Worker>();

function substitute(template: string, v: Record<string, string>): string {
  return template.replace(/\{(uri|host|port|queues|concurrency|processes)\}/g, (_, k: string) => v[k] ?? "");
}

interface WorkerSpec {
  queues: string[];
  concurrency: number;
  processes?: number;
  exitOnComplete?: boolean;
  /** Replaces the default argv (startup scenario). */
  argv?: string[];
}

function spawnWorker(opts: Options, spec: WorkerSpec, label: string): Worker {
  const srv = redisServer as PrivateRedis;
  const uri = `redis://127.0.0.1:${srv.port}/`;
  let argv: string[];
  if (spec.argv) argv = spec.argv;
  else if (opts.workerCmd !== undefined) {
    argv = ["sh", "-c", substitute(opts.workerCmd, { uri, host: "127.0.0.1", port: String(srv.port), queues: spec.queues.join(","), concurrency: String(spec.concurrency), processes: String(spec.processes ?? 1) })];
  } else {
    argv = [process.execPath, BENCH_WORKER, `--queues=${spec.queues.join(",")}`, `--concurrency=${spec.concurrency}`, `--uri=${uri}`, "--log-level=warn"];
    // Extra worker flags for experiments, e.g. BENCH_WORKER_ARGS="--connections=1".
    argv.push(...(process.env.BENCH_WORKER_ARGS ?? "").split(" ").filter(Boolean));
    if (spec.exitOnComplete) argv.push("--exit-on-complete");
    if ((spec.processes ?? 1) > 1) argv.push(`--processes=${spec.processes}`);
  }
  let out = "";
  const keep = (s: string) => {
    out += s;
    if (out.length > 16_384) out = out.slice(-8_192);
  };
  const spawnedAt = epochMs();
  const proc = Bun.spawn(argv, {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true, // own process group: cleanup reaches a supervisor's children and sh -c's children
  });
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of s) keep(dec.decode(chunk, { stream: true }));
    } catch {
      /* the pipe closed */
    }
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const w: Worker = {
    proc,
    label,
    spawnedAt,
    exitedAt: null,
    code: null,
    output: () => out,
    exited: proc.exited.then(async (code) => {
      w.exitedAt = epochMs();
      w.code = code;
      live.delete(w);
      await within(pumped, 1000);
      return code;
    }),
  };
  live.add(w);
  return w;
}

function signalGroup(w: Worker, sig: NodeJS.Signals): void {
  try {
    process.kill(-w.proc.pid, sig);
  } catch {
    try {
      w.proc.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** SIGTERM to the worker (a supervisor forwards it), then to its group, then SIGKILL: bounded. */
async function stopWorker(w: Worker, graceMs = 15_000): Promise<void> {
  if (w.exitedAt !== null) return;
  w.proc.kill("SIGTERM");
  if ((await within(w.exited, graceMs)) !== undefined) return;
  signalGroup(w, "SIGTERM");
  if ((await within(w.exited, 3000)) !== undefined) return;
  log(`${w.label}: did not stop after SIGTERM; SIGKILL`);
  signalGroup(w, "SIGKILL");
  await within(w.exited, 3000);
}

function killEverything(): void {
  for (const w of live) signalGroup(w, "SIGKILL");
  live.clear();
}

function tail(w: Worker): string {
  return w.output().trim().split("\n").slice(-15).join("\n");
}

// ---------------------------------------------------------------- results

type Result = Record<string, unknown> & { scenario: string };
const results: Result[] = [];

function emit(r: Result): void {
  results.push(r);
  process.stdout.write(JSON.stringify(r) + "\n");
}

const workerName = (opts: Options) => (opts.workerCmd !== undefined ? "custom" : "bunworker");

// ---------------------------------------------------------------- throughput runs (drain, slots, processes)

interface RunSpec {
  scenario: string;
  queue: string;
  jobs: number;
  payload: string;
  concurrency: number;
  processes: number;
  /** Give up on the run after this long. */
  timeoutMs: number;
}

async function prefill(queue: string, payload: string, n: number): Promise<void> {
  const key = `${NS}queue:${queue}`;
  const batch = 1000;
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batch) {
    const items = new Array<string>(Math.min(batch, n - i)).fill(payload);
    pending.push(cmd("RPUSH", [key, ...items]));
    if (pending.length >= 50) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await cmd("SADD", [`${NS}queues`, queue]);
  const len = Number(await cmd("LLEN", [key]));
  if (len !== n) throw new Error(`prefill: ${key} holds ${len} items, expected ${n}`);
}

async function throughput(opts: Options, spec: RunSpec): Promise<Result> {
  await cmd("FLUSHALL");
  await prefill(spec.queue, spec.payload, spec.jobs);
  const qkey = `${NS}queue:${spec.queue}`;
  const before = await snapshot();
  ownCommands = 1;
  const w = spawnWorker(opts, { queues: [spec.queue], concurrency: spec.concurrency, processes: spec.processes, exitOnComplete: true }, spec.scenario);
  const deadline = Date.now() + spec.timeoutMs;
  let firstAt: number | null = null;
  let doneAt: number | null = null;
  let processed = 0;
  try {
    // First job taken: the queue got shorter (polled every ms; LLEN is O(1)).
    while (firstAt === null && w.exitedAt === null && Date.now() < deadline) {
      const len = Number(await cmd("LLEN", [qkey]));
      if (len < spec.jobs) firstAt = epochMs();
      else await within(w.exited, 1);
    }
    // Last job processed: Resque's stat:processed reached the job count (polled every 2 ms), or the worker exited.
    while (w.exitedAt === null && Date.now() < deadline) {
      processed = Number((await cmd<string | null>("GET", [`${NS}stat:processed`])) ?? 0);
      if (processed >= spec.jobs) {
        doneAt = epochMs();
        break;
      }
      await within(w.exited, 2);
    }
    // Every worker gets 3 s to exit by itself (the default one runs with --exit-on-complete and should, at once);
    // then it gets SIGTERM, and the run ends at its last processed job.
    if (w.exitedAt === null && Date.now() < deadline) await within(w.exited, Math.min(3000, Math.max(0, deadline - Date.now())));
    const exitedByItself = w.exitedAt !== null;
    if (!exitedByItself) await stopWorker(w);
    if (w.exitedAt === null) throw new Error(`${spec.scenario}: worker did not exit`);
    if (w.code !== 0 && exitedByItself && doneAt === null) throw new Error(`${spec.scenario}: worker exited with status ${w.code}:\n${tail(w)}`);
    const own = ownCommands;
    const after = await snapshot();
    processed = Number((await cmd<string | null>("GET", [`${NS}stat:processed`])) ?? 0);
    const failed = Number((await cmd<string | null>("GET", [`${NS}stat:failed`])) ?? 0);
    const left = Number(await cmd("LLEN", [qkey]));
    if (doneAt === null && processed >= spec.jobs) doneAt = w.exitedAt;
    if (firstAt === null || doneAt === null) throw new Error(`${spec.scenario}: ${processed} of ${spec.jobs} jobs processed before the timeout or exit (status ${w.code}):\n${tail(w)}`);
    const d = delta(before, after, own);
    const ru = w.proc.resourceUsage();
    const end = exitedByItself ? (w.exitedAt as number) : doneAt;
    const seconds = (end - firstAt) / 1000;
    const cpuUs = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) : NaN;
    const evals = (d.calls.get("evalsha") ?? 0) + (d.calls.get("eval") ?? 0);
    return {
      scenario: spec.scenario,
      worker: workerName(opts),
      jobs: spec.jobs,
      concurrency: spec.concurrency,
      processes: spec.processes,
      seconds: round(seconds, 3),
      jobs_per_s: Math.round(spec.jobs / seconds),
      seconds_from_spawn: round((end - w.spawnedAt) / 1000, 3),
      jobs_per_s_from_spawn: Math.round(spec.jobs / ((end - w.spawnedAt) / 1000)),
      seconds_processing: round((doneAt - firstAt) / 1000, 3),
      spawn_to_first_job_ms: round(firstAt - w.spawnedAt, 1),
      last_job_to_exit_ms: exitedByItself ? round((w.exitedAt as number) - doneAt, 1) : null,
      exited_by_itself: exitedByItself,
      exit_code: w.code,
      worker_cpu_us_per_job: round(cpuUs / spec.jobs, 2),
      worker_user_s: ru ? round(Number(ru.cpuTime.user) / 1e6, 3) : null,
      worker_sys_s: ru ? round(Number(ru.cpuTime.system) / 1e6, 3) : null,
      worker_cpu_cores: round(cpuUs / 1e6 / ((end - w.spawnedAt) / 1000), 2),
      redis_cpu_us_per_job: round(d.cpuUs / spec.jobs, 2),
      redis_cpu_cores: round(d.cpuUs / 1e6 / ((end - w.spawnedAt) / 1000), 2),
      redis_cmds_per_job: round(d.commands / spec.jobs, 3),
      evalsha_per_job: round(evals / spec.jobs, 4),
      jobs_per_evalsha: evals ? round(spec.jobs / evals, 1) : null,
      script_usec_per_job: round(((d.usec.get("evalsha") ?? 0) + (d.usec.get("eval") ?? 0)) / spec.jobs, 2),
      redis_calls_per_job: perJob(d, spec.jobs),
      peak_rss_mb: ru ? round(ru.maxRSS / 1048576, 1) : null,
      processed,
      failed,
      left_in_queue: left,
    };
  } finally {
    if (w.exitedAt === null) await stopWorker(w, 3000);
  }
}

/** `repeat` runs of one measurement; the run with the median jobs/s, plus the spread of all runs. */
async function repeated(opts: Options, spec: RunSpec, rate: (r: Result) => number = (r) => r.jobs_per_s as number): Promise<Result> {
  const runs: Result[] = [];
  for (let i = 0; i < opts.repeat; i++) {
    if (opts.repeat > 1) log(`${spec.scenario}: run ${i + 1} of ${opts.repeat}`);
    runs.push(await throughput(opts, spec));
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

async function drain(opts: Options): Promise<void> {
  const jobs = opts.quick ? 50_000 : 200_000;
  log(`drain: ${jobs} no-op jobs, --concurrency=25`);
  const r = await repeated(opts, { scenario: "drain", queue: "bench", jobs, payload: '{"class":"Noop","args":[]}', concurrency: 25, processes: 1, timeoutMs: 300_000 });
  emit(r);
}

async function slots(opts: Options): Promise<void> {
  const jobs = opts.quick ? 10_000 : 30_000;
  log(`slots: ${jobs} jobs of 50 ms, --concurrency=1000`);
  const r = await repeated(opts, { scenario: "slots", queue: "bench", jobs, payload: '{"class":"Sleep","args":[50]}', concurrency: 1000, processes: 1, timeoutMs: 300_000 });
  emit({ ...r, bound_jobs_per_s: 20_000, of_bound: round((r.jobs_per_s as number) / 20_000, 3) });
}

async function processes(opts: Options): Promise<void> {
  if (opts.workerCmd !== undefined && !opts.workerCmd.includes("{processes}")) {
    emit({ scenario: "processes", worker: workerName(opts), skipped: "the --worker-cmd has no {processes} placeholder" });
    return;
  }
  const jobs = opts.quick ? 1000 : 2000;
  const runs: Result[] = [];
  for (const p of [1, 2]) {
    log(`processes: ${jobs} CPU-bound jobs of 2 ms, --processes=${p}`);
    // Compared first job -> last job processed: a supervisor need not exit by itself.
    const processing = (r: Result) => Math.round(jobs / (r.seconds_processing as number));
    const r = await repeated(opts, { scenario: `processes:${p}`, queue: "bench", jobs, payload: '{"class":"Cpu","args":[2]}', concurrency: 25, processes: p, timeoutMs: 120_000 }, processing);
    r.jobs_per_s_processing = processing(r);
    runs.push(r);
  }
  const [one, two] = runs as [Result, Result];
  two.speedup_vs_1 = round((two.jobs_per_s_processing as number) / (one.jobs_per_s_processing as number), 2);
  emit(one);
  emit(two);
}

// ---------------------------------------------------------------- MONITOR (startup, idle traffic)

interface MonitorLine {
  ts: number; // epoch ms
  addr: string;
  command: string;
  rest: string;
}

class Monitor {
  private sock: Socket | null = null;
  private buf = "";
  lines: MonitorLine[] = [];
  private waiters: (() => void)[] = [];

  async open(port: number): Promise<void> {
    const sock = createConnection({ host: "127.0.0.1", port });
    this.sock = sock;
    sock.setEncoding("latin1");
    let started = false;
    let ok: () => void = () => {};
    const ready = new Promise<void>((r) => (ok = () => ((started = true), r())));
    sock.on("data", (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf("\r\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        if (line === "+OK") ok();
        const m = /^\+(\d+\.\d+) \[\d+ ([^\]]+)\] "((?:[^"\\]|\\.)*)"(.*)$/.exec(line);
        if (m) this.lines.push({ ts: Number(m[1]) * 1000, addr: m[2] as string, command: (m[3] as string).toUpperCase(), rest: m[4] as string });
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    sock.on("error", () => {});
    sock.write("MONITOR\r\n");
    await within(ready, 5000);
    if (!started) throw new Error("MONITOR did not start");
  }

  /** Wait until `pred` matches a line (checked as lines arrive), up to timeoutMs. */
  async waitFor(pred: (l: MonitorLine) => boolean, timeoutMs: number): Promise<MonitorLine | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await within(new Promise<void>((r) => this.waiters.push(r)), left);
    }
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}

async function ownAddr(): Promise<string> {
  const info = await cmd<string>("CLIENT", ["INFO"]);
  return /addr=(\S+)/.exec(info)?.[1] ?? "";
}

// ---------------------------------------------------------------- latency + idle traffic

async function latency(opts: Options): Promise<void> {
  await cmd("FLUSHALL");
  const queues = ["lat1", "lat2", "lat3"];
  await cmd("SADD", [`${NS}queues`, ...queues]);
  const resultKey = `${NS}bench:stamps`;
  const w = spawnWorker(opts, { queues, concurrency: 25 }, "latency");
  const stamp = async (queue: string): Promise<{ pickup: number; roundTrip: number } | null> => {
    const sent = epochMs();
    await cmd("RPUSH", [`${NS}queue:${queue}`, JSON.stringify({ class: "Stamp", args: [sent, resultKey] })]);
    const got = await cmd<[string, string] | null>("BLPOP", [resultKey, "5"]);
    const roundTrip = epochMs() - sent;
    if (!got) return null;
    return { pickup: Number(got[1]), roundTrip };
  };
  try {
    log(`latency: waiting for the worker to pick up a first job`);
    let warm = null;
    for (let i = 0; i < 6 && !warm && w.exitedAt === null; i++) warm = await stamp("lat1");
    if (!warm) throw new Error(`latency: the worker ran no Stamp job (${w.exitedAt !== null ? `it exited with status ${w.code}` : "30 s"}):\n${tail(w)}`);
    for (const q of queues) for (let i = 0; i < 3; i++) await stamp(q), await sleep(opts.gapMs);
    for (const q of ["lat1", "lat3"]) {
      log(`latency: ${opts.samples} pickups on ${q}, ${opts.gapMs} ms apart`);
      const pickups: number[] = [];
      const trips: number[] = [];
      let missed = 0;
      for (let i = 0; i < opts.samples && w.exitedAt === null; i++) {
        await sleep(opts.gapMs);
        const s = await stamp(q);
        if (s) pickups.push(s.pickup), trips.push(s.roundTrip);
        else if (++missed >= 3) break;
      }
      pickups.sort((a, b) => a - b);
      trips.sort((a, b) => a - b);
      emit({
        scenario: `pickup:${q}`,
        worker: workerName(opts),
        queues: queues.join(","),
        concurrency: 25,
        jobs: pickups.length,
        missed,
        gap_ms: opts.gapMs,
        pickup_p50_ms: round(percentile(pickups, 50), 3),
        pickup_p90_ms: round(percentile(pickups, 90), 3),
        pickup_p99_ms: round(percentile(pickups, 99), 3),
        pickup_min_ms: round(pickups[0] ?? NaN, 3),
        pickup_max_ms: round(pickups[pickups.length - 1] ?? NaN, 3),
        round_trip_p50_ms: round(percentile(trips, 50), 3),
        round_trip_p99_ms: round(percentile(trips, 99), 3),
      });
    }
    // Idle traffic: nothing queued, nothing running; count what the worker sends for idleSeconds.
    log(`idle: counting Redis commands for ${opts.idleSeconds} s of idleness`);
    await sleep(1000);
    const mon = new Monitor();
    await mon.open((redisServer as PrivateRedis).port);
    const me = await ownAddr();
    const before = await snapshot();
    ownCommands = 1;
    const t0 = epochMs();
    await sleep(opts.idleSeconds * 1000);
    const own = ownCommands;
    const after = await snapshot();
    const seconds = (epochMs() - t0) / 1000;
    mon.close();
    const d = delta(before, after, own);
    const fromWorker = mon.lines.filter((l) => l.ts >= t0 && l.addr !== me);
    const top = fromWorker.filter((l) => l.addr !== "lua");
    const byCommand: Record<string, number> = {};
    for (const l of top) byCommand[l.command] = (byCommand[l.command] ?? 0) + 1;
    const inside: Record<string, number> = {};
    for (const l of fromWorker.filter((l) => l.addr === "lua")) inside[l.command] = (inside[l.command] ?? 0) + 1;
    emit({
      scenario: "idle",
      worker: workerName(opts),
      queues: queues.join(","),
      concurrency: 25,
      seconds: round(seconds, 2),
      idle_cmds_per_s: round(d.commands / seconds, 2),
      idle_client_cmds_per_s: round(top.length / seconds, 2),
      idle_script_cmds_per_s: round((fromWorker.length - top.length) / seconds, 2),
      idle_commands: byCommand,
      idle_commands_inside_scripts: inside,
      note: "idle_cmds_per_s = total_commands_processed delta (script-internal commands included); idle_client_cmds_per_s = commands the worker sent (MONITOR)",
    });
  } finally {
    await stopWorker(w);
  }
}

// ---------------------------------------------------------------- startup

async function startupOf(opts: Options, label: string, argv: string[] | undefined, command: string): Promise<void> {
  const srv = redisServer as PrivateRedis;
  const cycleSha = scripts.cycle.sha;
  const isFetch = (l: MonitorLine): boolean => {
    if (argv !== undefined) return (l.command === "EVALSHA" && l.rest.startsWith(` "${cycleSha}"`)) || (l.command === "EVAL" && l.rest.includes("fetch lane"));
    // Any other worker: the first list pop or script that names a queue key.
    return /^(LPOP|RPOP|BLPOP|BRPOP|LMOVE|BLMOVE|RPOPLPUSH|BRPOPLPUSH|LMPOP|BLMPOP|EVALSHA|EVAL|FCALL)$/.test(l.command) && l.rest.includes(`${NS}queue:`);
  };
  const firstCmd: number[] = [];
  const firstFetch: number[] = [];
  const mon = new Monitor();
  await mon.open(srv.port);
  try {
    const me = await ownAddr();
    await cmd("FLUSHALL");
    await cmd("SADD", [`${NS}queues`, "startup"]);
    for (let i = 0; i < opts.startupRuns; i++) {
      mon.lines = [];
      const w = spawnWorker(opts, { queues: ["startup"], concurrency: 25, argv }, label);
      try {
        // Ends at the fetch, after 15 s, or when the worker exits (a worker that fails to start).
        const fetch = await Promise.race([mon.waitFor((l) => l.addr !== me && l.addr !== "lua" && isFetch(l), 15_000), w.exited.then(() => within(mon.waitFor((l) => l.addr !== me && l.addr !== "lua" && isFetch(l), 0), 0))]);
        if (!fetch) throw new Error(`${label}: no fetch seen (${w.exitedAt !== null ? `the worker exited with status ${w.code}` : "15 s"}):\n${tail(w)}`);
        const first = mon.lines.find((l) => l.addr !== me && l.addr !== "lua" && l.ts >= w.spawnedAt - 5);
        firstFetch.push(fetch.ts - w.spawnedAt);
        if (first) firstCmd.push(first.ts - w.spawnedAt);
      } finally {
        await stopWorker(w);
      }
    }
  } finally {
    mon.close();
  }
  const p50 = median(firstFetch);
  emit({
    scenario: `startup:${label}`,
    worker: workerName(opts),
    command,
    runs: firstFetch.length,
    startup_ms: round(p50, 1),
    first_fetch_p50_ms: round(p50, 1),
    first_fetch_min_ms: round(Math.min(...firstFetch), 1),
    first_fetch_max_ms: round(Math.max(...firstFetch), 1),
    first_command_p50_ms: round(median(firstCmd), 1),
    note: "exec -> first fetch (the cycle EVALSHA) as MONITOR timestamps it; first_command = first command of any kind (connect)",
  });
}

async function startup(opts: Options): Promise<void> {
  const uri = `redis://127.0.0.1:${(redisServer as PrivateRedis).port}/`;
  const flags = ["--queues=startup", `--uri=${uri}`, "--log-level=warn"];
  if (opts.workerCmd !== undefined) {
    log(`startup: ${opts.startupRuns} starts of the --worker-cmd`);
    await startupOf(opts, "custom", undefined, opts.workerCmd);
    return;
  }
  log(`startup: ${opts.startupRuns} starts of bun worker.ts`);
  await startupOf(opts, "source", [process.execPath, `${ROOT}worker.ts`, ...flags], "bun worker.ts");
  if (existsSync(opts.binary)) {
    log(`startup: ${opts.startupRuns} starts of ${opts.binary}`);
    await startupOf(opts, "binary", [opts.binary, ...flags], opts.binary);
  } else {
    emit({ scenario: "startup:binary", worker: workerName(opts), command: opts.binary, skipped: `${opts.binary} does not exist (build it with \`bun run build\`)` });
  }
}

// ---------------------------------------------------------------- table

interface Target {
  text: string;
  met: (r: Result) => boolean;
}

const TARGETS: Record<string, Target> = {
  drain: { text: "≥ 100,000 jobs/s, ≤ 10 µs worker, ≤ 5 µs Redis, ≤ 40 MB", met: (r) => (r.jobs_per_s as number) >= 100_000 && (r.worker_cpu_us_per_job as number) <= 10 && (r.redis_cpu_us_per_job as number) <= 5 && (r.peak_rss_mb as number) <= 40 },
  pickup: { text: "p50 ≤ 0.5 ms, p99 ≤ 5 ms", met: (r) => (r.pickup_p50_ms as number) <= 0.5 && (r.pickup_p99_ms as number) <= 5 },
  idle: { text: "≤ 1 command/s", met: (r) => (r.idle_cmds_per_s as number) <= 1 },
  slots: { text: "≥ 15,000 jobs/s", met: (r) => (r.jobs_per_s as number) >= 15_000 },
  "processes:2": { text: "≥ 1.7× processes:1", met: (r) => (r.speedup_vs_1 as number) >= 1.7 },
  startup: { text: "< 50 ms", met: (r) => (r.startup_ms as number) < 50 },
};

function targetOf(r: Result): Target | undefined {
  return TARGETS[r.scenario] ?? TARGETS[r.scenario.split(":")[0] as string];
}

function fmt(v: unknown, digits = 2): string {
  if (v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v))) return "–";
  if (typeof v === "number") return v >= 1000 ? Math.round(v).toLocaleString("en-US") : String(round(v, digits));
  return String(v);
}

function table(): string {
  const head = ["scenario", "jobs", "seconds", "jobs/s", "pickup p50 / p99 ms", "worker µs/job", "Redis µs/job", "Redis cmds/job", "peak RSS MB", "other", "target", "met"];
  const rows = results.map((r) => {
    const t = targetOf(r);
    let other = "";
    if (r.skipped) other = `skipped: ${r.skipped}`;
    else if (r.error) other = `error: ${String(r.error).slice(0, 120)}`;
    else if (r.scenario === "idle") other = `${fmt(r.idle_cmds_per_s)} cmds/s (${fmt(r.idle_client_cmds_per_s)} sent by the worker)`;
    else if (r.scenario.startsWith("startup")) other = `exec → first fetch ${fmt(r.startup_ms, 1)} ms (min ${fmt(r.first_fetch_min_ms, 1)}, first command ${fmt(r.first_command_p50_ms, 1)} ms)`;
    else if (r.scenario.startsWith("processes")) other = `${fmt(r.jobs_per_s_processing)} jobs/s first→last job${r.speedup_vs_1 !== undefined ? `, ×${fmt(r.speedup_vs_1)}` : ""}${r.exited_by_itself === false ? ", did not exit by itself" : ""}`;
    else if (r.scenario === "slots") other = `${fmt(((r.of_bound as number) ?? NaN) * 100, 1)} % of the 20,000/s bound`;
    else if (r.scenario === "drain") other = `${fmt(r.jobs_per_evalsha, 1)} jobs/EVALSHA; from spawn ${fmt(r.jobs_per_s_from_spawn)} jobs/s`;
    const pickup = r.pickup_p50_ms !== undefined ? `${fmt(r.pickup_p50_ms, 3)} / ${fmt(r.pickup_p99_ms, 3)}` : "";
    const met = r.skipped || r.error || !t ? "" : t.met(r) ? "yes" : "**no**";
    return [r.scenario, fmt(r.jobs), fmt(r.seconds, 3), fmt(r.jobs_per_s), pickup, fmt(r.worker_cpu_us_per_job), fmt(r.redis_cpu_us_per_job), fmt(r.redis_cmds_per_job), fmt(r.peak_rss_mb, 1), other, t?.text ?? "", met]
      .map((c) => (c === "–" && !r.jobs_per_s ? "" : c));
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------- main

const RUNNERS: Record<ScenarioName, (o: Options) => Promise<void>> = { drain, latency, slots, processes, startup };

async function main(): Promise<number> {
  let opts: Options | "help";
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  if (opts === "help") {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const o = opts;
  const watchdog = setTimeout(() => {
    log(`giving up after --timeout=${o.timeoutS} s`);
    void cleanup().then(() => process.exit(1));
  }, o.timeoutS * 1000);
  let failures = 0;
  try {
    redisServer = await startRedis();
    rc = new RedisClient(redisServer.url);
    await rc.connect();
    log(`redis-server on 127.0.0.1:${redisServer.port}; worker: ${o.workerCmd ?? `bun ${BENCH_WORKER.slice(ROOT.length)}`}`);
    for (const s of o.scenarios) {
      if (interrupted) break;
      try {
        await RUNNERS[s](o);
      } catch (e) {
        if (interrupted) break;
        failures++;
        log(`${s} failed: ${(e as Error).message}`);
        emit({ scenario: s, worker: workerName(o), error: (e as Error).message.split("\n")[0] as string });
        killEverything();
      }
    }
    process.stdout.write("\n" + table() + "\n");
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
  return failures ? 1 : 0;
}

let interrupted = false;
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killEverything();
    try {
      rc?.close();
    } catch {
      /* closed */
    }
    rc = null;
    await redisServer?.stop();
    redisServer = null;
  })();
  return cleaning;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    interrupted = true;
    log(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    await cleanup();
    process.exit(1);
  },
);
