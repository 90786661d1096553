// Command-line options of the benchmark (`bun run bench --help` prints HELP) and the constants every module
// shares: the repository root, the default worker program and the Resque namespace. Kept apart from the
// entry so that scenarios can read their settings without importing main.
import { parseArgs } from "node:util";

export const ROOT = new URL("../../..", import.meta.url).pathname;
export const BENCH_WORKER = `${ROOT}test/bench/bench-worker.ts`;
export const NS = "resque:";
// In running order: the short scenarios first, so that a run cut short still has them.
export const ALL = ["cycle", "drain", "latency", "slots", "processes", "startup", "enqueue", "delayed", "queues", "memory"] as const;
export type ScenarioName = (typeof ALL)[number];
/** What `bun run bench` runs without --scenarios or --all: everything but the long memory drain (< 10 minutes). */
const DEFAULT: readonly ScenarioName[] = ALL.filter((s) => s !== "memory");

export const HELP = `bun run bench [options]

Starts a private redis-server on a free port of 127.0.0.1 (no persistence) and runs the worker CLI as a
child process against it. Prints one JSON line per result on stdout, then a markdown table with targets.
Without flags it runs every scenario but "memory", once each, in 5-6 minutes on a 2-core VM.

Every run first (and last) measures the Redis floor of the day (rows baseline, baseline:end): un-pipelined
LPOP/s on one connection, the PING and one-line EVALSHA round trips (sampled 30 ms apart), and the two hops of
a keyspace notification answered by that one-line script. Drain rows print jobs/s as a multiple of LPOP/s
(drain_x_lpop), pickup rows p50 as a multiple of the EVALSHA round trip (pickup_x_evalsha_rtt) and, with
notifications, of the two-hop floor (pickup_x_two_hop).

Scenarios (in this order):
  cycle      the fetch script alone (src/lua/lane-cycle-6.lua), driven by the harness as one lane of 12 slots: 4,000
             calls (quick 1,000) that each ack 12 jobs and fetch 12: script µs per call and per job (INFO
             commandstats), Redis CPU per job and the fleet ceiling it implies (jobs/s per Redis core)
  drain      200,000 pre-filled no-op jobs ({"class":"Noop","args":[]}) in queue "bench", --concurrency=25
             --exit-on-complete: jobs/s, worker and Redis CPU per job, Redis commands per job, peak RSS
  latency    idle worker on lat1,lat2,lat3 (--concurrency=25): one "Stamp" job at a time, ~300 ms apart,
             pickup p50/p99 on the first and the last queue; then Redis commands/s over --idle-seconds of idleness
  queues     1,000 empty queues q0000..q0999 in resque:queues, one idle worker on --queues=* (--concurrency=25,
             --interval=1): Redis connections it holds, Redis commands/s over the idle window, and Stamp pickup
             p50/p99 on the first, middle and last queue (q0000, q0500, q0999; each wait capped at
             2 × interval + 5 s) and spread (each job on a random queue, then the connections held);
             again with notify-keyspace-events El (queues:notify); and connections and
             idle commands/s of a worker on --queues=q0000,q0001,q0002 for reference (queues:3)
  slots      --concurrency=1000, "Sleep" 50 ms jobs: 200,000 jobs (bound 20,000 jobs/s), the whole run's rate
             and the steady one (10 -> 90 % of the jobs); --slots-concurrency runs it at other concurrencies
             (jobs: 200 per slot, 60 with --quick, at most 200,000 / 10,000; bound: slots / 50 ms)
  processes  "Cpu" 2 ms jobs, 2,000 jobs, --processes=1 vs --processes=2: jobs/s and the ratio
  enqueue    one producer process writes 200,000 jobs with enqueueMany (quick: 50,000): jobs/s; beside it
             \`redis-benchmark -t lpush -P 100 -q -n <same>\` as the limit (skipped when not installed)
  startup    exec to first fetch (cycle EVALSHA seen by MONITOR), 10 runs, median: \`bun worker.ts\` and the
             compiled binary (--binary, default dist/bunworker; skipped with a note when absent)
  delayed    delayed:lateness: Stamp items in resque-scheduler's delayed keys, 5 per second, each written
             --interval + 2 s ahead; job start minus the start of its due second, p50/p99 (idle worker,
             --interval=5); delayed:promote: 100,000 items due at once (quick 20,000), promoted by one worker
             that does not serve their queue: items/s
  memory     (only with --all or --scenarios) the drain with 1,000,000 jobs: peak RSS at 20 % of the run and at
             its end, which must match (flat memory)

Options:
  --scenarios=a,b        scenarios to run (${ALL.join(",")})
  --all                  every scenario, with the long counts: --repeat=3, 200 pickups per queue (also in
                         queues), 60 s idle windows, --timeout=3600 (about 35 minutes)
  --quick                smaller counts: drain 50,000, slots 10,000, processes 1,000, 50 pickups per queue
                         (20 in queues), 10 s idle windows, 5 start-ups
  --worker-cmd='<cmd>'   run this command (through sh -c, in its own process group) instead of the default
                         worker; the harness appends NOTHING. Placeholders substituted into the string:
                           {uri} redis://127.0.0.1:<port>/   {host} 127.0.0.1   {port} <port>
                           {queues} comma-separated queue list   {concurrency} slots   {processes} processes
                           {interval} seconds between polls (1 in the queues scenario, 5 elsewhere)
                         The worker must use the "resque:" namespace, increment resque:stat:processed and
                         know the classes Noop, Sleep(ms), Cpu(ms), Stamp(sentEpochMs, resultKey) (Stamp
                         RPUSHes to resultKey the difference, in ms, between its clock on arrival and
                         sentEpochMs, both as performance.timeOrigin + performance.now()). It need not exit by
                         itself: 3 s after the last job it gets SIGTERM. "processes" is skipped unless
                         the command contains {processes}; "startup" measures the command itself; without
                         {interval}, "queues" assumes the worker polls every 5 s. Quote {queues} ('{queues}')
                         if the shell could expand "*". Prefer "cd dir && exec cmd" so that SIGTERM reaches
                         the worker and its CPU time is counted.
  --middleware=n[,m]     drain with n trivial middleware in the default worker (async (ctx, next) => { await
                         next() }), then with m, ...: rows "drain" (0) and "drain:mw<n>" (default 0)
  --binary=<path>        compiled worker for the startup scenario (default dist/bunworker)
  --worker-args='<flags>' extra flags for the default worker, e.g. --worker-args='--min-replicas=1' (also
                         $BENCH_WORKER_ARGS); ignored with --worker-cmd
  --replicas=<n>         start n replicas of the private redis-server (for --worker-args='--min-replicas=n');
                         Redis CPU fields count the primary only
  --slots-concurrency=<n,n>  the slots scenario's --concurrency values (default 1000), e.g. 5,25,1000
  --samples=<n>          pickups per measured queue (default 100, quick 50, all 200); the queues scenario takes
                         at most 30 (quick 20) unless --samples or --all is given
  --gap-ms=<ms>          idle time before each pickup (default 300)
  --idle-seconds=<s>     length of the idle-traffic windows (default 20, quick 10, all 60)
  --startup-runs=<n>     start-ups per command (default 10, quick 5)
  --repeat=<n>           runs of each throughput measurement (drain, slots, processes, memory); the run with the
                         median jobs/s is reported, with the spread (default 1, all 3)
  --timeout=<s>          give up on the whole benchmark after this many seconds (default 900, all 3600)
  --help                 this text

Fields: seconds = first job taken -> worker exit (exit-on-complete), or -> last job processed when the worker
does not exit by itself; seconds_from_spawn = spawn -> same end; worker_cpu_us_per_job = user+system time
of the worker process tree (wait4 rusage, children included) / jobs; redis_cpu_us_per_job = INFO cpu
used_cpu_user+used_cpu_sys delta / jobs; redis_cmds_per_job = INFO stats total_commands_processed delta
(commands run inside Lua scripts included, the harness's own commands excluded) / jobs; evalsha_per_job =
EVALSHA+EVAL calls / jobs; script_usec_per_call = INFO commandstats usec / calls of EVALSHA+EVAL;
fleet_ceiling_jobs_per_s = 1e6 / redis_cpu_us_per_job (what one Redis core can serve at this cost);
peak_rss_mb = the largest VmHWM (/proc/<pid>/status) of the worker's processes, sampled every 50 ms and reported
by the default worker as it exits (spawn_maxrss_mb, wait4's figure, also counts the harness's memory from
before exec); connections = CLIENT LIST
entries minus the harness's own (named bench-*) and MONITOR connections.`;

export interface Options {
  scenarios: ScenarioName[];
  quick: boolean;
  all: boolean;
  /** Pickups per position in the queues scenario. */
  queueSamples: number;
  workerCmd: string | undefined;
  binary: string;
  samples: number;
  gapMs: number;
  idleSeconds: number;
  startupRuns: number;
  repeat: number;
  timeoutS: number;
  middleware: number[];
  workerArgs: string[];
  slotsConcurrency: number[];
  replicas: number;
}

type Values = Record<string, string | boolean | undefined>;

function readArgs(argv: string[]): Values {
  const str = { type: "string" } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenarios: str, quick: { type: "boolean" }, all: { type: "boolean" }, "worker-cmd": str, binary: str, samples: str, "gap-ms": str,
      "idle-seconds": str, "startup-runs": str, repeat: str, timeout: str, middleware: str, help: { type: "boolean", short: "h" },
      "worker-args": str, "slots-concurrency": str, replicas: str,
    },
  });
  return values;
}

function num(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
  return n;
}

function scenarioList(v: string | undefined, all: boolean): ScenarioName[] {
  const scenarios = (v ?? (all ? ALL : DEFAULT).join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (known: ${ALL.join(", ")})`);
  return ALL.filter((s) => scenarios.includes(s));
}

export function parseOptions(argv: string[]): Options | "help" {
  const values = readArgs(argv);
  if (values.help) return "help";
  const quick = values.quick === true;
  const all = values.all === true;
  if (quick && all) throw new Error("--quick and --all cannot be combined");
  const s = (k: string) => values[k] as string | undefined;
  const samples = Math.floor(num("samples", s("samples"), quick ? 50 : all ? 200 : 100, 1));
  return {
    scenarios: scenarioList(s("scenarios"), all),
    quick,
    all,
    queueSamples: s("samples") !== undefined || all ? samples : quick ? 20 : 30,
    workerCmd: s("worker-cmd"),
    binary: s("binary") ?? `${ROOT}dist/bunworker`,
    samples,
    gapMs: num("gap-ms", s("gap-ms"), 300, 0),
    idleSeconds: num("idle-seconds", s("idle-seconds"), quick ? 10 : all ? 60 : 20, 1),
    startupRuns: Math.floor(num("startup-runs", s("startup-runs"), quick ? 5 : 10, 1)),
    repeat: Math.floor(num("repeat", s("repeat"), all ? 3 : 1, 1)),
    timeoutS: num("timeout", s("timeout"), all ? 3600 : 900, 10),
    middleware: (s("middleware") ?? "0").split(",").map((v) => Math.floor(num("middleware", v.trim(), 0, 0))),
    workerArgs: [s("worker-args") ?? "", process.env.BENCH_WORKER_ARGS ?? ""].join(" ").split(" ").filter(Boolean),
    replicas: Math.floor(num("replicas", s("replicas"), 0, 0)),
    slotsConcurrency: (s("slots-concurrency") ?? "1000").split(",").map((v) => Math.floor(num("slots-concurrency", v, 1000, 1))),
  };
}
